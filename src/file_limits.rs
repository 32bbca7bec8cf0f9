//! How many files `out/public/` holds, and the warning of `check` and `status` when that passes
//! a host's documented limit. Cloudflare Pages' limits page ("Files") allows 20,000 files a site
//! on the Free plan and 100,000 on paid plans (raised from 20,000 in January 2026, with
//! `PAGES_WRANGLER_MAJOR_VERSION=4` in the project's settings). Pure: the count comes from each
//! set's publish path and policy, so it is the same before and after a build, with or without
//! `--set`.

use crate::config::KeysetConfig;

/// A host's limit on the files of one site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileLimit {
    /// The most files a site may have.
    pub(crate) files: usize,
    /// The host.
    pub(crate) host: &'static str,
    /// The plans that allow that many, as the host names them.
    pub(crate) plan: &'static str,
}

/// The documented limits, smallest first.
pub(crate) const LIMITS: [FileLimit; 2] = [
    FileLimit { files: 20_000, host: "Cloudflare Pages", plan: "Free plan" },
    FileLimit { files: 100_000, host: "Cloudflare Pages", plan: "paid plans" },
];

/// The limits, with the numbers of files replaced by those of `numbers` (comma-separated, in
/// order: the hidden test hook `JWKSMITH_FILE_LIMITS`, so that a test reaches them with a few
/// thousand files); a number that does not parse keeps the documented one.
pub(crate) fn limits(numbers: Option<&str>) -> Vec<FileLimit> {
    let mut limits = LIMITS.to_vec();
    for (limit, n) in limits.iter_mut().zip(numbers.unwrap_or("").split(',')) {
        if let Ok(n) = n.trim().parse() {
            limit.files = n;
        }
    }
    limits
}

/// The files under `out/public/` of the set at publish path `path` with policy `config`:
/// `jwks.json`, `.well-known/jwks.json`, `jwt-keys.json`, `jwt-keys.active.json`, the discovery
/// document when `issuer` is set, the two API mirrors with `api_mirrors`, and the set's page
/// (but the root set's, whose page is the site's root page).
pub(crate) fn set_file_count(path: &str, config: &KeysetConfig) -> usize {
    4 + usize::from(!config.issuer.is_empty()) + 2 * usize::from(config.api_mirrors) + usize::from(!path.is_empty())
}

/// The files of `out/public/` as `build` writes them with the default templates, counted set by
/// set (so that a run reading its sets in batches keeps only each set's link cost): the sets'
/// files, the root chain of pages, `_headers`, `.nojekyll` and `404.html`.
#[derive(Debug, Default)]
pub(crate) struct FileCount {
    /// The sets' own files.
    own: usize,
    /// The cost of each link of the root chain ([`crate::site::link_cost`]), in walk order.
    links: Vec<usize>,
}

impl FileCount {
    /// Counts the set at publish path `path` with policy `config`; sets come in walk order.
    pub(crate) fn add(&mut self, path: &str, config: &KeysetConfig) {
        self.own += set_file_count(path, config);
        if !path.is_empty() {
            self.links.push(crate::site::link_cost(path));
        }
    }

    /// The files of the whole site.
    pub(crate) fn total(&self) -> usize {
        self.own + crate::site::chain_page_count_of(&self.links) + 3
    }
}

/// The warning about a site of `count` files, when it passes one of `limits` (smallest first):
/// it names the count, the largest limit passed and the next one, if any.
pub(crate) fn warning(count: usize, limits: &[FileLimit]) -> Option<String> {
    let passed = limits.iter().rposition(|l| count > l.files)?;
    let limit = limits[passed];
    let what = format!(
        "out/public/ holds {} files as `jwksmith build` writes it, more than the {} files a site that {} allows on its {}",
        thousands(count),
        thousands(limit.files),
        limit.host,
        limit.plan
    );
    Some(match limits.get(passed + 1).filter(|next| next.host == limit.host) {
        Some(next) => format!(
            "{what} (its {} allow {}); deploy it on a larger plan or to another host, or split the sets between sites",
            next.plan,
            thousands(next.files)
        ),
        None => format!(
            "{what}; split the sets between sites (one --keys directory each), or deploy to a host without a file limit (such as object storage with `jwksmith publish`)"
        ),
    })
}

/// `20000` as `20,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeySet;
    use crate::plan::{Inputs, PlanOptions, SetSource, SiteSource, plan};
    use crate::site::Site;
    use crate::times::Timestamp;

    #[test]
    fn the_warning_names_the_count_and_the_limit_passed_at_the_edges() {
        assert_eq!(warning(0, &LIMITS), None);
        assert_eq!(warning(20_000, &LIMITS), None, "at the limit is within it");
        let free = warning(20_001, &LIMITS).unwrap();
        assert!(free.starts_with("out/public/ holds 20,001 files"), "{free}");
        assert!(
            free.contains("more than the 20,000 files a site that Cloudflare Pages allows on its Free plan"),
            "{free}"
        );
        assert!(free.contains("(its paid plans allow 100,000)"), "{free}");
        assert!(warning(100_000, &LIMITS).unwrap().contains("on its Free plan"), "the paid plans' limit is not passed");
        let paid = warning(100_001, &LIMITS).unwrap();
        assert!(
            paid.contains("100,001 files")
                && paid.contains("100,000 files a site that Cloudflare Pages allows on its paid plans;"),
            "{paid}"
        );
        assert!(paid.contains("split the sets"), "{paid}");
    }

    #[test]
    fn the_test_hook_replaces_the_numbers_in_order() {
        assert_eq!(limits(None), LIMITS);
        let hooked = limits(Some("1999, 5000"));
        assert_eq!(hooked.iter().map(|l| l.files).collect::<Vec<_>>(), [1999, 5000]);
        assert_eq!(hooked[1].plan, "paid plans");
        assert_eq!(limits(Some("x")), LIMITS);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!([0, 999, 1000, 20_001, 1_234_567].map(thousands), ["0", "999", "1,000", "20,001", "1,234,567"]);
    }

    fn set(path: &str, issuer: &str, api_mirrors: bool) -> KeySet {
        let config = KeysetConfig {
            issuer: issuer.into(),
            api_mirrors,
            service_id: format!("s{}", path.len()),
            ..KeysetConfig::default()
        };
        let dir = format!("keys/{path}").into();
        KeySet { path: path.into(), dir, config, config_file: None, keys: Vec::new(), unfinished: Vec::new() }
    }

    #[test]
    fn the_count_is_the_public_files_of_a_plan() {
        let sets = [
            set("", "", false),
            set("a", "https://keys.example.com/a", false),
            set("a/bb", "", true),
            set("ccc", "https://keys.example.com/ccc", true),
        ];
        let site = Site::new(Vec::new()).unwrap();
        for sets in [&sets[..], &sets[1..]] {
            let inputs = Inputs {
                sets: sets.iter().map(SetSource::Loaded).collect(),
                templates: &site,
                site: SiteSource::Render,
                untouched: &[],
                options: PlanOptions::default(),
            };
            let planned = plan(&inputs, Timestamp::from_unix(1_767_225_600)).unwrap();
            let public = planned.written().filter(|f| f.path.starts_with("public/")).count();
            let mut count = FileCount::default();
            sets.iter().for_each(|s| count.add(&s.path, &s.config));
            assert_eq!(count.total(), public);
        }
    }
}
