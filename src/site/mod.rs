//! The site files rendered with minijinja: embedded default templates, overridden file by file
//! from the templates directory (`site-template/`, read by `read`, the only I/O here).
//! Rendering is pure.

mod pages;
mod rows;
mod templates;

use std::path::{Path, PathBuf};

use minijinja::value::{Serde, Value};
use minijinja::{Environment, context};
use rayon::prelude::*;
use serde::Serialize;

use pages::{LINK_BUDGET, Link, PageNav, chain, chain_page_name, is_chain_page, root_href, set_href};
pub(crate) use pages::{PAGE_LIMIT, chain_page_count_of, link_cost};
pub(crate) use rows::{SiteSet, site_set};
pub(crate) use templates::{Digests, Override, digests, load, read_checked};

use crate::error::{Error, Result};
use crate::header_rules::{self, HeaderRule, RuleSet};
use crate::layout::OutputFile;

/// The site templates: name, embedded default. `index.html` is the layout of every page (the
/// root chain's and each set's own, [`PageCtx`]); `index-set.html` renders one set's section of
/// its page (context: `set`).
pub(crate) const TEMPLATES: [(&str, &str); 5] = [
    ("index.html", include_str!("../templates/index.html")),
    ("index-set.html", include_str!("../templates/index-set.html")),
    ("_headers", include_str!("../templates/_headers")),
    (".nojekyll", include_str!("../templates/.nojekyll")),
    ("404.html", include_str!("../templates/404.html")),
];

/// The site-wide files besides the root chain of pages, relative to `out/public/`.
const SUPPORT_FILES: [&str; 3] = ["_headers", ".nojekyll", "404.html"];

/// A set as `_headers` needs it: where its files are under `public/` (`""` or `tenants/acme/`),
/// their `Cache-Control: max-age` in seconds, and their paths relative to `out/`.
pub(crate) struct HeaderSet<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) max_age: i64,
    pub(crate) files: Vec<&'a str>,
}

impl SiteSet {
    /// The set as `_headers` needs it, with the paths (relative to `out/`) of its `files`.
    pub(crate) fn header_set<'a>(&'a self, files: Vec<&'a str>) -> HeaderSet<'a> {
        HeaderSet { prefix: &self.prefix, max_age: self.max_age, files }
    }
}

/// The loaded templates, with the file each came from (for error messages).
#[derive(Debug)]
pub(crate) struct Site {
    env: Environment<'static>,
    sources: Vec<(&'static str, Option<PathBuf>)>,
}

impl Site {
    /// The embedded defaults, each replaced by its override when there is one ([`read`]). The
    /// first problem in template order (an override that could not be read, or that does not
    /// parse) is the error.
    pub(crate) fn new(overrides: Vec<Override>) -> Result<Site> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("default delimiters are valid"),
        );
        let mut sources = Vec::new();
        for (name, default) in TEMPLATES {
            // Overrides can `{% extends "default/index.html" %}` and replace single blocks.
            env.add_template_owned(format!("default/{name}"), default.to_string())
                .map_err(|e| template_error(name, None, &e))?;
        }
        let mut overrides = overrides.into_iter().peekable();
        for (name, default) in TEMPLATES {
            let (text, source) = match overrides.next_if(|o| o.name == name) {
                Some(Override { text, path, .. }) => (text?, Some(path)),
                None => (default.to_string(), None),
            };
            env.add_template_owned(name, text).map_err(|e| template_error(name, source.as_deref(), &e))?;
            sources.push((name, source));
        }
        Ok(Site { env, sources })
    }

    /// Renders one template with a context.
    fn render<C: Serialize>(&self, name: &'static str, context: C) -> Result<Vec<u8>> {
        self.render_sized(name, Value::from(Serde(context)), 0)
    }

    /// Renders one template with a context into a buffer made for about `size_hint` bytes (a
    /// page of megabytes is not copied over and over as it grows).
    fn render_sized(&self, name: &'static str, context: Value, size_hint: usize) -> Result<Vec<u8>> {
        let source = self.source(name);
        let template = self.env.get_template(name).map_err(|e| template_error(name, source, &e))?;
        let mut bytes = Vec::with_capacity(size_hint);
        template.render_captured_to(context, &mut bytes).map_err(|e| template_error(name, source, &e))?;
        Ok(bytes)
    }

    /// The override file a template was read from (`None`: the embedded default).
    fn source(&self, name: &str) -> Option<&Path> {
        self.sources.iter().find(|(n, _)| *n == name).and_then(|(_, s)| s.as_deref())
    }
}

fn template_error(name: &str, source: Option<&Path>, e: &minijinja::Error) -> Error {
    let path = source.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(format!("<embedded template {name}>")));
    let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    Error::input(
        path,
        format!("template error{line}: {}{detail}", e.kind()),
        "fix the template, or delete it to use the embedded default",
    )
}

/// The context every site template gets.
#[derive(Serialize)]
struct Ctx<'a> {
    sets: &'a [&'a SiteSet],
    rules: Vec<HeaderRule>,
}

/// The context of `index.html`, the layout of every page ([`PageNav`], [`Link`]).
#[derive(Serialize)]
struct PageCtx<'a> {
    /// The set this page shows (the root set on the root page, when there is one).
    set: Option<&'a SiteSet>,
    /// Its section (`index-set.html`), rendered.
    section: Option<Value>,
    /// The relative link to the root page.
    root: String,
    /// The sets this page links to (pages of the root chain).
    links: &'a [Link],
    /// Where this page is in the root chain (`None` on a set's own page).
    page: Option<PageNav>,
}

/// About the size of a set's page with the default templates (a few keys: 5 KiB), and more
/// than its section: the buffer they are rendered into is not grown and copied again and again.
const SET_PAGE_HINT: usize = 8 << 10;

impl Site {
    /// The page of a set other than the root set, `<publish path>/index.html`: its section and
    /// a link back to the root page. Part of the set's own files.
    pub(crate) fn set_page(&self, set: &SiteSet) -> Result<OutputFile> {
        let section = self.section(set)?;
        let context =
            PageCtx { set: Some(set), section: Some(section), root: root_href(&set.path), links: &[], page: None };
        let bytes = self.render_sized("index.html", Value::from(Serde(context)), SET_PAGE_HINT)?;
        Ok(site_file(&format!("{}index.html", set.prefix), bytes))
    }

    /// The site-wide files: the root chain ([`Site::root_pages`]) of the root set (`root`) and
    /// the publish paths of every other set (`paths`, in walk order), then `_headers`,
    /// `.nojekyll` and `404.html` for every set (`sets`, [`HeaderSet`]).
    pub(crate) fn files(&self, root: Option<&SiteSet>, paths: &[&str], sets: &[HeaderSet]) -> Result<Vec<OutputFile>> {
        let (pages, support) = rayon::join(|| self.root_pages(root, paths), || self.support_files(sets));
        let mut files = pages?;
        files.extend(support?);
        Ok(files)
    }

    /// The root chain: `index.html` (the root set's section, when there is a root set, and the
    /// first links to the other sets' pages), then `index-2.html`, … with the links that did not
    /// fit, each page linking the one before and after it. Pages are cut by bytes: when a page
    /// still renders past [`PAGE_LIMIT`] (an override that makes links large), the budget halves
    /// until every page with more than one link fits.
    pub(crate) fn root_pages(&self, root: Option<&SiteSet>, paths: &[&str]) -> Result<Vec<OutputFile>> {
        let section = root.map(|set| self.section(set)).transpose()?;
        let links: Vec<Link> = paths.iter().map(|p| Link { path: p.to_string(), href: set_href(p) }).collect();
        let costs: Vec<usize> = paths.iter().map(|p| link_cost(p)).collect();
        let mut budget = LINK_BUDGET;
        loop {
            let chunks = chain(&costs, budget);
            let count = chunks.len();
            let pages: Vec<Vec<u8>> = chunks
                .par_iter()
                .enumerate()
                .map(|(i, chunk)| {
                    let context = PageCtx {
                        set: if i == 0 { root } else { None },
                        section: if i == 0 { section.clone() } else { None },
                        root: "index.html".to_string(),
                        links: &links[chunk.clone()],
                        page: Some(PageNav::new(i + 1, count)),
                    };
                    self.render_sized("index.html", Value::from(Serde(context)), 0)
                })
                .collect::<Result<_>>()?;
            let too_big = pages.iter().zip(&chunks).any(|(p, c)| p.len() > PAGE_LIMIT && c.len() > 1);
            if !too_big || budget == 0 {
                let names = (1..=count).map(chain_page_name);
                return Ok(names.zip(pages).map(|(name, bytes)| site_file(&name, bytes)).collect());
            }
            budget /= 2;
        }
    }

    /// A set's section of its page (template `index-set.html`), as a safe string.
    fn section(&self, set: &SiteSet) -> Result<Value> {
        let bytes = self.render_sized("index-set.html", context! { set => Serde(set) }, SET_PAGE_HINT)?;
        // minijinja writes only `str`s: the bytes are UTF-8 (and are moved, not copied).
        let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok(Value::from_safe_string(text))
    }

    /// `_headers` (rules that give every JSON file of every set its headers,
    /// [`crate::header_rules`]), `.nojekyll` and `404.html`. `sets` pairs each set with the
    /// paths (relative to `out/`) of the files its plan holds (its page is not JSON: no rule).
    fn support_files(&self, sets: &[HeaderSet]) -> Result<Vec<OutputFile>> {
        let sets: Vec<RuleSet> = sets
            .iter()
            .map(|set| RuleSet {
                prefix: set.prefix,
                max_age: set.max_age,
                files: set
                    .files
                    .iter()
                    .filter_map(|p| p.strip_prefix("public"))
                    .filter(|p| !p.ends_with(".html"))
                    .map(str::to_string)
                    .collect(),
            })
            .collect();
        let rules = header_rules::rules(sets);
        let empty = || Ctx { sets: &[], rules: Vec::new() };
        Ok(vec![
            site_file("_headers", self.render("_headers", Ctx { sets: &[], rules })?),
            site_file(".nojekyll", self.render(".nojekyll", empty())?),
            site_file("404.html", self.render("404.html", empty())?),
        ])
    }
}

/// True when `rel` (relative to `out/public/`) is a site-wide file: a page of the root chain,
/// `_headers`, `.nojekyll` or `404.html`. No set owns these.
pub(crate) fn is_site_file(rel: &str) -> bool {
    SUPPORT_FILES.contains(&rel) || is_chain_page(rel)
}

fn site_file(name: &str, bytes: Vec<u8>) -> OutputFile {
    OutputFile { path: format!("public/{name}"), bytes, private: false }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::config::KeysetConfig;
    use crate::model::KeySet;
    use crate::times::Timestamp;

    fn row(path: &str) -> SiteSet {
        let dir = format!("keys/{path}").into();
        let config = KeysetConfig::default();
        let set =
            KeySet { path: path.into(), dir, config, config_file: None, keys: Vec::new(), unfinished: Vec::new() };
        site_set(&set, Timestamp::from_unix(1_767_225_600))
    }

    /// The values of `attribute="…"` in `html`, in order, unescaped as a browser reads them.
    fn attributes(html: &str, attribute: &str) -> Vec<String> {
        let unescape = |s: &str| {
            s.replace("&#x2f;", "/")
                .replace("&quot;", "\"")
                .replace("&#x27;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        };
        let marker = format!("{attribute}=\"");
        html.split(&marker).skip(1).map(|rest| unescape(&rest[..rest.find('"').unwrap()])).collect()
    }

    /// The pages of the chain from `index.html` on, following each page's `rel="next"` link.
    fn walk(pages: &HashMap<String, String>) -> Vec<&str> {
        let mut order = vec!["index.html"];
        while let Some(next) = pages[*order.last().unwrap()].split("rel=\"next\" href=\"").nth(1) {
            let name = &next[..next.find('"').unwrap()];
            assert!(!order.contains(&name), "the chain loops at {name}");
            order.push(pages.get_key_value(name).map(|(k, _)| k.as_str()).expect("a next page that exists"));
        }
        order
    }

    #[test]
    fn no_page_passes_1_mib_at_30000_sets_with_long_paths_and_every_set_is_reachable_from_the_root() {
        let site = Site::new(Vec::new()).unwrap();
        let paths: Vec<String> = (0..30_000)
            .map(|i| match i % 1000 {
                0 => format!("long/{}/{i}", "x/&\"<é%".repeat(500)),
                n => format!("tenants/{}/{i:05}", "a&b/<c>\"d'e é%".repeat(1 + n % 20)),
            })
            .collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let files = site.root_pages(Some(&row("")), &refs).unwrap();
        assert!(files.len() > 10, "{} pages", files.len());
        for f in &files {
            assert!(f.bytes.len() <= PAGE_LIMIT, "{} has {} bytes", f.path, f.bytes.len());
        }
        let pages: HashMap<String, String> = files
            .iter()
            .map(|f| (f.path.strip_prefix("public/").unwrap().to_string(), String::from_utf8(f.bytes.clone()).unwrap()))
            .collect();
        let order = walk(&pages);
        assert_eq!(order.len(), pages.len(), "every page is on the chain");
        assert_eq!(order[1], "index-2.html");
        assert!(pages["index.html"].contains("Set <code>.</code>"), "the root page shows the root set");
        let linked: Vec<String> = order.iter().flat_map(|name| attributes(&pages[*name], "href")).collect();
        let linked: HashSet<&str> = linked.iter().map(String::as_str).collect();
        for path in &paths {
            let href = set_href(path);
            assert!(linked.contains(href.as_str()), "{path} is not linked");
            let decoded = percent_encoding::percent_decode_str(&href).decode_utf8().unwrap();
            assert_eq!(decoded, format!("{path}/index.html"), "the link leads to the set's page");
        }
    }

    #[test]
    fn an_override_that_makes_links_large_gets_smaller_pages() {
        let fat = "{% for link in links %}{% for _ in range(400) %}{{ link.href }}{% endfor %}{% endfor %}\
                   {% if page.next %}<a rel=\"next\" href=\"{{ page.next }}\">next</a>{% endif %}";
        let text = Ok(fat.to_string());
        let site = Site::new(vec![Override { name: "index.html", text, path: "site-template/index.html".into() }]);
        let site = site.unwrap();
        let paths: Vec<String> = (0..300).map(|i| format!("tenants/t{i:04}")).collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let files = site.root_pages(None, &refs).unwrap();
        assert!(files.len() > 1, "split into pages");
        assert!(files.iter().all(|f| f.bytes.len() <= PAGE_LIMIT), "every page fits");
        let pages: HashMap<String, String> = files
            .iter()
            .map(|f| (f.path.strip_prefix("public/").unwrap().to_string(), String::from_utf8(f.bytes.clone()).unwrap()))
            .collect();
        assert_eq!(walk(&pages).len(), files.len());
    }

    #[test]
    fn a_sets_page_links_its_files_and_the_root_page_relatively() {
        let site = Site::new(Vec::new()).unwrap();
        let page = site.set_page(&row("tenants/acme")).unwrap();
        assert_eq!(page.path, "public/tenants/acme/index.html");
        let html = String::from_utf8(page.bytes).unwrap();
        let hrefs = attributes(&html, "href");
        assert!(hrefs.contains(&"../../index.html".to_string()), "{hrefs:?}");
        assert!(hrefs.contains(&"jwks.json".to_string()) && hrefs.contains(&".well-known/jwks.json".to_string()));
        assert!(!html.contains("rel=\"next\""), "a set's page is not on the chain");
    }

    #[test]
    fn site_files_are_told_apart_from_sets_files() {
        for rel in ["index.html", "index-2.html", "_headers", ".nojekyll", "404.html"] {
            assert!(is_site_file(rel), "{rel}");
        }
        for rel in ["jwks.json", "tenants/acme/index.html", "index-2.html/jwks.json", "api/x/service/jwks/get"] {
            assert!(!is_site_file(rel), "{rel}");
        }
    }
}
