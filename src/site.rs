//! The site files rendered with minijinja: embedded default templates, overridden file by file
//! from the templates directory (`site-template/`).

use std::path::{Path, PathBuf};

use minijinja::Environment;
use serde::Serialize;

use crate::error::{Error, Result};

/// The site templates: name, embedded default.
pub const TEMPLATES: [(&str, &str); 3] = [
    ("index.html", include_str!("templates/index.html")),
    ("_headers", include_str!("templates/_headers")),
    (".nojekyll", include_str!("templates/.nojekyll")),
];

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
            let path = dir.join(name);
            let (text, source) = if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
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
        let source = self.sources.iter().find(|(n, _)| *n == name).and_then(|(_, s)| s.clone());
        let template = self.env.get_template(name).map_err(|e| template_error(name, source.as_deref(), &e))?;
        let text = template
            .render(minijinja::value::Serde(context))
            .map_err(|e| template_error(name, source.as_deref(), &e))?;
        Ok(text.into_bytes())
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
