//! The rules of `_headers`: a fixed handful of splat rules for every set that shares the most
//! common `cache_max_age`, and a few rules more for each set with one of its own, so that the
//! file stays within Cloudflare Pages' limits (100 rules, 2,000 characters a line) whatever the
//! number of sets.
//!
//! The shared rules never overlap (each JSON file matches exactly one: `/*.json`, the discovery
//! document, the two API mirrors), so each file gets one `Content-Type`, one `Cache-Control` and
//! one `Access-Control-Allow-Origin` on Cloudflare Pages (which joins repeated headers with a
//! comma) and on Netlify (where a later rule's header replaces an earlier one's). A set with a
//! `cache_max_age` of its own gets rules that come later and only replace `Cache-Control`:
//! `! Cache-Control` (Cloudflare Pages' removal of what earlier rules set; Netlify skips the
//! line) then the set's value.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::headers;
use crate::layout::OutputFile;

/// The content type of every published file: they are all JSON.
const JSON: &str = "application/json";

/// The shared rules, in file order: every JSON file of a set matches exactly one of them.
const SHARED: [&str; 4] =
    ["/*.json", "/*.well-known/openid-configuration", "/api/:id/service/jwks/get", "/projects/:id/jwt-keys"];

/// Cloudflare Pages' limits: it skips every rule past the 100th and every longer line.
pub(crate) const MAX_RULES: usize = 100;
/// See [`MAX_RULES`].
pub(crate) const MAX_LINE: usize = 2000;

/// One set as `_headers` sees it.
pub(crate) struct RuleSet<'a> {
    /// Where the set's files are under `public/`: `""` or `tenants/acme/`.
    pub prefix: &'a str,
    /// `Cache-Control: max-age` of its files, in seconds.
    pub max_age: i64,
    /// Its published files as URL paths (`/tenants/acme/jwks.json`).
    pub files: Vec<String>,
}

/// A rule of `_headers`, as the template renders it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderRule {
    /// The path pattern.
    pub path: String,
    /// `Content-Type` (with `Access-Control-Allow-Origin: *`) when the rule gives them; rules
    /// that only replace `Cache-Control` have none.
    pub content_type: Option<&'static str>,
    /// `Cache-Control: public, max-age=<max_age>`.
    pub max_age: i64,
    /// The rule first removes the `Cache-Control` of earlier rules (`! Cache-Control`).
    pub replaces: bool,
}

impl HeaderRule {
    /// The rule as [`headers`] reads it back from the default template.
    fn parsed(&self) -> headers::Rule {
        let mut set = Vec::new();
        if let Some(t) = self.content_type {
            set.push(("Content-Type".to_string(), t.to_string()));
            set.push(("Access-Control-Allow-Origin".to_string(), "*".to_string()));
        }
        set.push(("Cache-Control".to_string(), format!("public, max-age={}", self.max_age)));
        let unset = if self.replaces { vec!["Cache-Control".to_string()] } else { Vec::new() };
        headers::Rule { pattern: self.path.clone(), headers: set, unset }
    }
}

/// The `cache_max_age` most sets share (the smaller one on a tie).
fn common_max_age(sets: &[RuleSet]) -> Option<i64> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for s in sets {
        *counts.entry(s.max_age).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(age, n)| (*n, -age)).map(|(age, _)| age)
}

/// The rules for these sets: shared splats, a `*.json` splat under each set whose own
/// `cache_max_age` differs from what its nearest ancestor's rules give it, then an exact rule
/// for each file that the rules so far would not give exactly its headers.
pub(crate) fn rules(mut sets: Vec<RuleSet>) -> Vec<HeaderRule> {
    let Some(common) = common_max_age(&sets) else { return Vec::new() };
    // Publish-path order puts every set after the sets it lies inside.
    sets.sort_by(|a, b| a.prefix.cmp(b.prefix));
    let mut rules: Vec<HeaderRule> = SHARED
        .iter()
        .filter(|p| sets.iter().flat_map(|s| &s.files).any(|f| headers::matches(p, f)))
        .map(|p| HeaderRule { path: p.to_string(), content_type: Some(JSON), max_age: common, replaces: false })
        .collect();
    let mut splats: HashMap<&str, i64> = HashMap::new();
    for set in sets.iter().filter(|s| !s.prefix.is_empty()) {
        let inherited = crate::layout::parents(set.prefix.trim_end_matches('/'))
            .find_map(|dir| splats.get(format!("{dir}/").as_str()).copied())
            .unwrap_or(common);
        if set.max_age != inherited {
            splats.insert(set.prefix, set.max_age);
            let path = format!("/{}*.json", set.prefix);
            rules.push(HeaderRule { path, content_type: None, max_age: set.max_age, replaces: true });
        }
    }
    let parsed: Vec<headers::Rule> = rules.iter().map(HeaderRule::parsed).collect();
    let mut exact = Vec::new();
    for set in &sets {
        for file in &set.files {
            let got = headers::for_path(&parsed, file);
            let value = |name: &str| got.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
            let typed = value("Content-Type") == Some(JSON) && value("Access-Control-Allow-Origin") == Some("*");
            let cached = value("Cache-Control") == Some(format!("public, max-age={}", set.max_age).as_str());
            if !typed || !cached {
                let content_type = (!typed).then_some(JSON);
                let replaces = value("Cache-Control").is_some();
                exact.push(HeaderRule { path: file.clone(), content_type, max_age: set.max_age, replaces });
            }
        }
    }
    exact.sort_by(|a, b| a.path.cmp(&b.path));
    rules.extend(exact);
    rules
}

/// What would make Cloudflare Pages drop part of a `_headers` file: more than [`MAX_RULES`]
/// rules, or lines longer than [`MAX_LINE`] characters. Each problem is one message.
pub(crate) fn limit_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.chars().count() > MAX_LINE {
            problems.push(format!(
                "line {} is {} characters long; Cloudflare Pages ignores lines over {MAX_LINE} characters",
                i + 1,
                trimmed.chars().count()
            ));
        }
        if trimmed.starts_with('/') || trimmed.contains("://") {
            count += 1;
        }
    }
    if count > MAX_RULES {
        problems.push(format!(
            "{count} rules; Cloudflare Pages applies only the first {MAX_RULES} (each set whose cache_max_age differs from most sets' adds rules: give more sets the same cache_max_age)"
        ));
    }
    problems
}

/// The warnings of `check` about the planned `_headers` (none when the plan has no site files).
pub(crate) fn warnings(files: &[&OutputFile]) -> Vec<String> {
    let Some(file) = files.iter().find(|f| f.path == "public/_headers") else { return Vec::new() };
    limit_problems(&String::from_utf8_lossy(&file.bytes))
        .into_iter()
        .map(|p| format!("out/public/_headers: {p}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(prefix: &str, max_age: i64, extra: &[&str]) -> RuleSet<'static> {
        let prefix: &'static str = Box::leak(prefix.to_string().into_boxed_str());
        let mut files: Vec<String> = ["jwks.json", ".well-known/jwks.json", "jwt-keys.json", "jwt-keys.active.json"]
            .iter()
            .map(|f| format!("/{prefix}{f}"))
            .collect();
        files.extend(extra.iter().map(|f| f.to_string()));
        RuleSet { prefix, max_age, files }
    }

    fn check(sets: Vec<RuleSet>) -> Vec<HeaderRule> {
        let wanted: Vec<(String, i64)> =
            sets.iter().flat_map(|s| s.files.iter().map(move |f| (f.clone(), s.max_age))).collect();
        let rules = rules(sets);
        let parsed: Vec<headers::Rule> = rules.iter().map(HeaderRule::parsed).collect();
        for (file, age) in wanted {
            let got = headers::for_path(&parsed, &file);
            assert_eq!(
                got,
                vec![
                    ("Content-Type".to_string(), JSON.to_string()),
                    ("Access-Control-Allow-Origin".to_string(), "*".to_string()),
                    ("Cache-Control".to_string(), format!("public, max-age={age}")),
                ],
                "{file}: {rules:?}"
            );
        }
        rules
    }

    #[test]
    fn sets_that_share_a_max_age_share_four_rules() {
        let mirrors = |i: usize| [format!("/api/s{i}/service/jwks/get"), format!("/projects/p{i}/jwt-keys")];
        let mut sets = vec![set("", 3600, &["/.well-known/openid-configuration"])];
        for i in 0..300 {
            let mut s = set(&format!("tenants/t{i}/"), 3600, &[]);
            s.files.push(format!("/tenants/t{i}/.well-known/openid-configuration"));
            s.files.extend(mirrors(i));
            sets.push(s);
        }
        assert_eq!(check(sets).len(), 4);
        assert_eq!(check(vec![set("", 3600, &[])]).len(), 1);
    }

    #[test]
    fn a_set_of_its_own_max_age_adds_a_few_rules_and_its_children_keep_theirs() {
        let sets = vec![
            set("", 60, &["/.well-known/openid-configuration", "/api/root/service/jwks/get"]),
            set("a/", 600, &["/a/.well-known/openid-configuration", "/projects/pa/jwt-keys"]),
            set("a/b/", 3600, &[]),
            set("a/b/c/", 600, &[]),
            set("ab/", 3600, &[]),
            set("x/", 3600, &[]),
        ];
        let rules = check(sets);
        // The shared four, three splats (a/, a/b/ back to the common value, a/b/c/), the root's six
        // files and a/'s discovery document and mirror.
        assert_eq!(rules.len(), 4 + 3 + 6 + 2, "{rules:?}");
    }

    #[test]
    fn limits_are_counted() {
        let many: String = (0..101).map(|i| format!("/r{i}\n  X: y\n")).collect();
        assert_eq!(limit_problems(&many).len(), 1);
        assert!(limit_problems(&format!("/{}\n  X: y\n", "a".repeat(2000)))[0].starts_with("line 1 is 2001"));
        assert!(limit_problems("# c\n/*.json\n  X: y\n").is_empty());
    }
}
