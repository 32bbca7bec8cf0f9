//! The site files rendered with minijinja: embedded default templates, overridden file by file
//! from the templates directory (`site-template/`, read by `read`, the only I/O here).
//! Rendering is pure.

mod rows;
mod templates;

use std::path::{Path, PathBuf};

use minijinja::value::{Serde, Value};
use minijinja::{Environment, context};
use rayon::prelude::*;
use serde::Serialize;

pub(crate) use rows::{SiteSet, site_set};
pub(crate) use templates::{Override, load};

use crate::error::{Error, Result};
use crate::header_rules::{self, HeaderRule, RuleSet};
use crate::layout::OutputFile;

/// The site templates: name, embedded default. `index-set.html` renders one set's section of
/// `index.html` (context: `set`); the sections render on all cores.
pub(crate) const TEMPLATES: [(&str, &str); 5] = [
    ("index.html", include_str!("../templates/index.html")),
    ("index-set.html", include_str!("../templates/index-set.html")),
    ("_headers", include_str!("../templates/_headers")),
    (".nojekyll", include_str!("../templates/.nojekyll")),
    ("404.html", include_str!("../templates/404.html")),
];

/// The site files every full build writes, relative to `out/`.
pub(crate) const SITE_FILES: [&str; 4] =
    ["public/index.html", "public/_headers", "public/.nojekyll", "public/404.html"];

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

impl Site {
    /// The site-wide files (`index.html`, `_headers`, `.nojekyll`, `404.html`) for all sets, given each
    /// set's [`SiteSet`] and the paths (relative to `out/`) of its files; `index_size` is the
    /// size of the last `index.html`, if known. The page and the other files render at once.
    pub(crate) fn files(&self, sets: &[(&SiteSet, Vec<&str>)], index_size: Option<u64>) -> Result<Vec<OutputFile>> {
        let shown: Vec<&SiteSet> = sets.iter().map(|(s, _)| *s).collect();
        let (index, support) = rayon::join(
            || self.sections(&shown).and_then(|sections| self.index(&shown, sections, index_size)),
            || self.support_files(sets.iter().map(|(s, paths)| (*s, paths.iter().copied()))),
        );
        let mut files = vec![index?];
        files.extend(support?);
        Ok(files)
    }

    /// Each set's section of `index.html` (template `index-set.html`), rendered on all cores.
    fn sections(&self, sets: &[&SiteSet]) -> Result<Vec<String>> {
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
    fn index(&self, sets: &[&SiteSet], sections: Vec<String>, size_hint: Option<u64>) -> Result<OutputFile> {
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
    fn support_files<'a>(
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
