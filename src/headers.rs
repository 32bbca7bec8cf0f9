//! Reading a Netlify / Cloudflare Pages `_headers` file: which headers apply to a URL path.
//! `serve` uses it so the dev server sends exactly what Cloudflare Pages' asset server does:
//! `*` matches any run of characters (slashes included), `:name` one path segment; every
//! matching rule applies in file order, the first to set a header replaces the default, later
//! ones append to it (joined with `, `), and `! Name` removes what earlier rules set.

/// One rule: a path pattern and its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// URL path, with `*` splats and `:name` placeholders.
    pub pattern: String,
    /// Header name and value pairs.
    pub headers: Vec<(String, String)>,
    /// Headers this rule removes (`! Name` lines) before it sets its own.
    pub unset: Vec<String>,
}

/// Parses `_headers`: a path line, then indented `Name: value` or `! Name` lines; `#` starts a
/// comment.
pub(crate) fn parse(text: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        match (indented, rules.last_mut()) {
            (true, Some(rule)) => {
                let line = line.trim();
                if let Some(name) = line.strip_prefix("! ") {
                    rule.unset.push(name.trim().to_string());
                } else if let Some((name, value)) = line.split_once(':') {
                    rule.headers.push((name.trim().to_string(), value.trim().to_string()));
                }
            }
            (false, _) => rules.push(Rule { pattern: line.trim().to_string(), headers: Vec::new(), unset: Vec::new() }),
            (true, None) => {}
        }
    }
    rules
}

/// Whether `path` matches `pattern` (`*`: any characters; `:name`: one segment, not empty).
pub fn matches(pattern: &str, path: &str) -> bool {
    match_from(pattern.as_bytes(), path.as_bytes())
}

fn match_from(pattern: &[u8], path: &[u8]) -> bool {
    match pattern.first() {
        None => path.is_empty(),
        Some(b'*') => (0..=path.len()).any(|skip| match_from(&pattern[1..], &path[skip..])),
        Some(b':') if pattern.get(1).is_some_and(u8::is_ascii_alphabetic) => {
            let name = 1 + pattern[1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            let segment = path.iter().take_while(|c| **c != b'/').count();
            (1..=segment).any(|n| match_from(&pattern[name..], &path[n..]))
        }
        Some(c) => path.first() == Some(c) && match_from(&pattern[1..], &path[1..]),
    }
}

/// Every header that applies to `path`: one entry per header name, in the order first set.
pub(crate) fn for_path(rules: &[Rule], path: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut set: Vec<String> = Vec::new();
    for rule in rules.iter().filter(|r| matches(&r.pattern, path)) {
        for name in &rule.unset {
            out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        for (name, value) in &rule.headers {
            let first = !set.iter().any(|n| n.eq_ignore_ascii_case(name));
            match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some(entry) if !first => entry.1 = format!("{}, {value}", entry.1),
                Some(entry) => *entry = (name.clone(), value.clone()),
                None => out.push((name.clone(), value.clone())),
            }
            if first {
                set.push(name.to_ascii_lowercase());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_and_matches() {
        let rules = parse(
            "# c\n/jwks.json\n  Content-Type: application/json\n  Cache-Control: public, max-age=3600\n\n/a/*\n  X: y\n",
        );
        assert_eq!(rules.len(), 2);
        assert_eq!(
            for_path(&rules, "/jwks.json"),
            vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                ("Cache-Control".to_string(), "public, max-age=3600".to_string())
            ]
        );
        assert_eq!(for_path(&rules, "/a/b").len(), 1);
        assert!(for_path(&rules, "/other").is_empty());
    }

    #[test]
    fn splats_and_placeholders_match_as_cloudflare_does() {
        assert!(matches("/*.json", "/jwks.json"));
        assert!(matches("/*.json", "/tenants/a/.well-known/jwks.json"));
        assert!(!matches("/*.json", "/tenants/a/index.html"));
        assert!(matches("/*.well-known/openid-configuration", "/.well-known/openid-configuration"));
        assert!(matches("/*.well-known/openid-configuration", "/t/a/.well-known/openid-configuration"));
        assert!(matches("/api/:id/service/jwks/get", "/api/svc-1/service/jwks/get"));
        assert!(!matches("/api/:id/service/jwks/get", "/api/a/b/service/jwks/get"));
        assert!(!matches("/api/:id/service/jwks/get", "/api//service/jwks/get"));
        assert!(matches("/projects/:id/jwt-keys", "/projects/0b1c/jwt-keys"));
    }

    #[test]
    fn later_rules_append_and_unset_replaces() {
        let rules =
            parse("/*\n  Cache-Control: a\n/x/*\n  Cache-Control: b\n/x/y/*\n  ! Cache-Control\n  Cache-Control: c\n");
        assert_eq!(for_path(&rules, "/z"), vec![("Cache-Control".to_string(), "a".to_string())]);
        assert_eq!(for_path(&rules, "/x/z"), vec![("Cache-Control".to_string(), "a, b".to_string())]);
        assert_eq!(for_path(&rules, "/x/y/z"), vec![("Cache-Control".to_string(), "c".to_string())]);
    }
}
