//! The site files rendered with minijinja: embedded default templates, overridden file by file
//! from the templates directory (`site-template/`).

use std::path::{Path, PathBuf};

use minijinja::value::{Serde, Value};
use minijinja::{Environment, context};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::header_rules::{self, HeaderRule, RuleSet};
use crate::layout::{OutputFile, set_prefix};
use crate::model::{Key, KeySet};
use crate::times::Timestamp;

/// The site templates: name, embedded default. `index-set.html` renders one set's section of
/// `index.html` (context: `set`); the sections render on all cores.
pub const TEMPLATES: [(&str, &str); 5] = [
    ("index.html", include_str!("templates/index.html")),
    ("index-set.html", include_str!("templates/index-set.html")),
    ("_headers", include_str!("templates/_headers")),
    (".nojekyll", include_str!("templates/.nojekyll")),
    ("404.html", include_str!("templates/404.html")),
];

/// The site files every full build writes, relative to `out/`.
pub const SITE_FILES: [&str; 4] = ["public/index.html", "public/_headers", "public/.nojekyll", "public/404.html"];

/// The loaded templates, with the file each came from (for error messages).
#[derive(Debug)]
pub struct Site {
    env: Environment<'static>,
    sources: Vec<(&'static str, Option<PathBuf>)>,
}

impl Site {
    /// Loads the embedded defaults, then any same-named file in `dir` (if it exists).
    pub fn load(dir: &Path) -> Result<Site> {
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
        for (name, default) in TEMPLATES {
            let path = dir.join(name);
            // Anything at the path is read (a FIFO, socket, device or huge file is an error
            // naming it); only a path where nothing is leaves the embedded default.
            let present = std::fs::symlink_metadata(&path).is_ok();
            let (text, source) = if present {
                let bytes = crate::keydir::read_input(&path)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::input(&path, "template is not UTF-8 text", "save it as UTF-8"))?;
                (text, Some(path))
            } else {
                (default.to_string(), None)
            };
            env.add_template_owned(name, text).map_err(|e| template_error(name, source.as_deref(), &e))?;
            sources.push((name, source));
        }
        Ok(Site { env, sources })
    }

    /// Renders one template with a context.
    pub fn render<C: Serialize>(&self, name: &'static str, context: C) -> Result<Vec<u8>> {
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

/// One set and the files `plan_set` made for it.
pub struct SetOutput<'a> {
    /// The set.
    pub set: &'a KeySet,
    /// Its files.
    pub files: Vec<OutputFile>,
}

/// The context every site template gets.
#[derive(Serialize)]
struct Ctx<'a> {
    sets: &'a [&'a SiteSet],
    rules: Vec<HeaderRule>,
}

/// What a set contributes to the site files: its row of `index.html` and the `Cache-Control`
/// of its public files. Kept by incremental builds for the sets they do not reload.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SiteSet {
    path: String,
    display_path: String,
    prefix: String,
    issuer: String,
    keys: Vec<SiteKey>,
    timeline: Option<Timeline>,
    /// `Cache-Control: max-age` of the set's files, in seconds.
    max_age: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct SiteKey {
    kid: String,
    state: String,
    alg: String,
    #[serde(rename = "use")]
    key_use: String,
    r#type: String,
    thumbprint: String,
    spki_sha256: String,
    created: Option<String>,
    activates: Option<String>,
    retires: Option<String>,
    expires: Option<String>,
    revoked: Option<String>,
}

/// One row of the timeline: x positions in a 1000-wide SVG.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Bar {
    kid: String,
    state: String,
    y: i64,
    published_x: i64,
    published_w: i64,
    signing_x: i64,
    signing_w: i64,
    open: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Timeline {
    height: i64,
    bars: Vec<Bar>,
    start: String,
    end: String,
}

impl Site {
    /// The site-wide files (`index.html`, `_headers`, `.nojekyll`) for all sets, given each
    /// set's [`SiteSet`] and the files its plan holds.
    pub fn files(&self, sets: &[(&SiteSet, &[OutputFile])]) -> Result<Vec<OutputFile>> {
        let shown: Vec<&SiteSet> = sets.iter().map(|(s, _)| *s).collect();
        let mut files = vec![self.index(&shown, self.sections(&shown)?, None)?];
        files.extend(self.support_files(sets.iter().map(|(s, files)| (*s, files.iter().map(|f| f.path.as_str()))))?);
        Ok(files)
    }

    /// Each set's section of `index.html` (template `index-set.html`), rendered on all cores.
    pub fn sections(&self, sets: &[&SiteSet]) -> Result<Vec<String>> {
        sets.par_iter()
            .map(|set| {
                let bytes = self.render_sized("index-set.html", context! { set => Serde(set) }, 0)?;
                // minijinja writes only `str`s: the bytes are UTF-8.
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            })
            .collect()
    }

    /// `index.html`: every set and key, given each set's section ([`Site::sections`]).
    /// `size_hint`: its size last time, if known.
    pub fn index(&self, sets: &[&SiteSet], sections: Vec<String>, size_hint: Option<u64>) -> Result<OutputFile> {
        let length: usize = sections.iter().map(String::len).sum();
        let hint = size_hint.map_or(length + 8192, |s| usize::try_from(s).unwrap_or(0).saturating_add(4096));
        // The embedded page shows only the sections; an override may walk `sets` itself.
        let sets = if self.source("index.html").is_some() { Value::from(Serde(sets)) } else { Value::from(()) };
        let sections: Vec<Value> = sections.into_iter().map(Value::from_safe_string).collect();
        let context = context! { sets => sets, sections => sections, rules => Vec::<Value>::new() };
        Ok(site_file("index.html", self.render_sized("index.html", context, hint)?))
    }

    /// `_headers` (rules that give every public file of every set its headers,
    /// [`crate::header_rules`]), `.nojekyll` and `404.html`. `sets` pairs each set with the
    /// paths (relative to `out/`) of the files its plan holds.
    pub fn support_files<'a>(
        &self,
        sets: impl Iterator<Item = (&'a SiteSet, impl Iterator<Item = &'a str>)>,
    ) -> Result<Vec<OutputFile>> {
        let sets: Vec<RuleSet> = sets
            .map(|(set, paths)| RuleSet {
                prefix: &set.prefix,
                max_age: set.max_age,
                files: paths.filter_map(|p| p.strip_prefix("public")).map(str::to_string).collect(),
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

fn site_file(name: &str, bytes: Vec<u8>) -> OutputFile {
    OutputFile { path: format!("public/{name}"), bytes, private: false }
}

/// What `set` shows on the site at `now` (fingerprints included).
pub fn site_set(set: &KeySet, now: Timestamp) -> SiteSet {
    let shown = |t: Option<Timestamp>| t.map(|t| t.to_string());
    let mut keys: Vec<&Key> = set.keys.iter().filter(|k| k.state(now).is_listed()).collect();
    keys.sort_by_key(|k| {
        (k.state(now).publish_rank(), set.config.spec_rank(k.meta.spec.as_deref()), k.meta.kid.clone())
    });
    SiteSet {
        path: set.path.clone(),
        display_path: set.display_path().to_string(),
        prefix: set_prefix(&set.path),
        issuer: set.config.issuer.clone(),
        max_age: set.config.rotation.cache_max_age.secs(),
        timeline: timeline(set, &keys, now),
        keys: keys
            .into_iter()
            .map(|k| SiteKey {
                kid: k.meta.kid.clone(),
                state: k.state(now).name().to_string(),
                alg: k.meta.alg.name().to_string(),
                key_use: k.meta.key_use.name().to_string(),
                r#type: k.material.public.describe(),
                thumbprint: k.material.public.thumbprint(),
                spki_sha256: k.material.public.spki_sha256(),
                created: shown(k.meta.created),
                activates: shown(k.meta.activates),
                retires: shown(k.meta.retires),
                expires: shown(k.meta.expires),
                revoked: shown(k.meta.revoked),
            })
            .collect(),
    }
}

/// Lays out a rotation timeline from the keys' own times (never from `now`, so the page
/// changes only when a key's state does). Keys without times are left out.
fn timeline(set: &KeySet, keys: &[&Key], now: Timestamp) -> Option<Timeline> {
    let timed: Vec<&Key> = keys.iter().copied().filter(|k| k.meta.created.or(k.meta.activates).is_some()).collect();
    let start = timed.iter().filter_map(|k| k.meta.created.or(k.meta.activates)).min()?;
    let r = set.config.rotation;
    let mut end = timed
        .iter()
        .flat_map(|k| [k.meta.activates, k.meta.retires, k.meta.expires, k.meta.revoked])
        .flatten()
        .max()
        .unwrap_or(start);
    let latest_start = timed.iter().filter_map(|k| k.meta.activates.or(k.meta.created)).max().unwrap_or(start);
    end = end.max(latest_start.plus(r.rotate_every));
    let span = (end.unix() - start.unix()).max(1);
    // i128: a span of any length (timings are capped, times are not) scales without overflow.
    let x = |t: Timestamp| 160 + (i128::from((t.unix() - start.unix()).clamp(0, span)) * 820 / i128::from(span)) as i64;
    let bars = timed
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let m = &k.meta;
            let born = m.created.or(m.activates).unwrap_or(start);
            let gone = m.revoked.or(m.expires);
            let signs_from = m.activates.or(m.created).unwrap_or(start);
            let signs_until = m.revoked.or(m.retires).unwrap_or(end).max(signs_from);
            Bar {
                kid: m.kid.clone(),
                state: k.state(now).name().to_string(),
                y: 10 + 22 * i as i64,
                published_x: x(born),
                published_w: (x(gone.unwrap_or(end)) - x(born)).max(2),
                signing_x: x(signs_from),
                signing_w: (x(signs_until) - x(signs_from)).max(0),
                open: gone.is_none(),
            }
        })
        .collect::<Vec<_>>();
    Some(Timeline {
        height: 36 + 22 * bars.len() as i64,
        bars,
        start: start.to_string()[..10].to_string(),
        end: end.to_string()[..10].to_string(),
    })
}
