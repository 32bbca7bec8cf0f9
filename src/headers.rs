//! Reading a Netlify / Cloudflare Pages `_headers` file: which headers apply to a URL path.
//! `serve` uses it so the dev server sends exactly what the CDN will.

/// One rule: a path pattern and its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// URL path, possibly ending in `*`.
    pub pattern: String,
    /// Header name and value pairs.
    pub headers: Vec<(String, String)>,
}

/// Parses `_headers`: a path line, then indented `Name: value` lines; `#` starts a comment.
pub(crate) fn parse(text: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        match (indented, rules.last_mut()) {
            (true, Some(rule)) => {
                if let Some((name, value)) = line.trim().split_once(':') {
                    rule.headers.push((name.trim().to_string(), value.trim().to_string()));
                }
            }
            (false, _) => rules.push(Rule { pattern: line.trim().to_string(), headers: Vec::new() }),
            (true, None) => {}
        }
    }
    rules
}

fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// Every header that applies to `path`, in file order.
pub(crate) fn for_path(rules: &[Rule], path: &str) -> Vec<(String, String)> {
    rules.iter().filter(|r| matches(&r.pattern, path)).flat_map(|r| r.headers.iter().cloned()).collect()
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
}
