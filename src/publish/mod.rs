//! `jwksmith publish s3://BUCKET[/PREFIX]`: upload `out/public/` to object storage with the
//! headers a static host would apply, skip what is already in place, and delete what jwksmith
//! uploaded earlier that the build no longer produces (SPEC §5.3).
//!
//! Plan first, then apply: the store is listed, the objects whose ETag is the MD5 of the planned
//! bytes are HEADed (in parallel) to compare their metadata and mark, and only then anything is
//! uploaded or deleted. `out/public/` must be what `build` writes now (`check`'s comparison);
//! `out/private/` is never read.

mod sigv4;
mod store;
mod work;

use std::collections::{BTreeMap, HashMap};

use crate::cmd::build::Selection;
use crate::cmd::{Context, load};
use crate::error::{Error, Result};
use crate::layout::{OutputFile, Planned};
use crate::plan::{PlanOptions, plan_set};
use crate::write::{Ownership, diff_public};
use store::{Head, Listed, MARK, MARK_VALUE, PREFIX_MARK, Store, md5_hex, prefix_mark};

/// Files of `out/public/` that hosts read as configuration, never serve, and so are not uploaded.
const NOT_UPLOADED: [&str; 2] = ["_headers", ".nojekyll"];

/// `s3://BUCKET[/PREFIX]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    bucket: String,
    /// Without leading or trailing `/`; `""` for the bucket's root.
    prefix: String,
}

impl Target {
    /// Parses the URL; anything but `s3://BUCKET[/PREFIX]` is a usage error.
    pub(crate) fn parse(url: &str) -> Result<Target> {
        let usage = |why: &str| Error::Usage(format!("publish `{url}`: {why}; give s3://BUCKET or s3://BUCKET/PREFIX"));
        let rest = url.strip_prefix("s3://").ok_or_else(|| usage("not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c);
        if bucket.is_empty() || !bucket.chars().all(valid) {
            return Err(usage("no valid bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..") || prefix.contains("//") {
            return Err(usage("the prefix has an empty, `.` or `..` segment"));
        }
        Ok(Target { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() { rel.to_string() } else { format!("{}/{rel}", self.prefix) }
    }

    /// The listing prefix: `PREFIX/`, or `""`.
    fn list_prefix(&self) -> String {
        if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) }
    }
}

/// One object as it should be in the store.
#[derive(Debug)]
struct Wanted {
    key: String,
    bytes: Vec<u8>,
    content_type: &'static str,
    cache_control: Option<String>,
}

impl Wanted {
    /// Its headers: content type, cache control, the mark and `prefix_mark` (its target's).
    fn headers(&self, prefix_mark: &str) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".to_string(), self.content_type.to_string())];
        if let Some(cc) = &self.cache_control {
            headers.push(("cache-control".to_string(), cc.clone()));
        }
        headers.push((MARK.to_string(), MARK_VALUE.to_string()));
        headers.push((PREFIX_MARK.to_string(), prefix_mark.to_string()));
        headers
    }

    /// True when `head` is this object's, published under the prefix of `prefix_mark`.
    fn in_place(&self, head: &Head, prefix_mark: &str) -> bool {
        head.marked
            && head.prefix_mark.as_deref() == Some(prefix_mark)
            && head.content_type.as_deref() == Some(self.content_type)
            && head.cache_control.as_deref() == self.cache_control.as_deref()
    }
}

/// The content type of a site file that no set's plan made (set files are all JSON).
fn site_content_type(rel: &str) -> &'static str {
    match rel.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// What the store should hold: every public file of the plan but `_headers` and `.nojekyll`,
/// JSON files (those of a set's plan, the extension-less included) with their set's max-age.
fn wanted(ctx: &Context, target: &Target, files: Vec<OutputFile>, loaded: &crate::cmd::Loaded) -> Vec<Wanted> {
    let options = PlanOptions { force_pretty: false };
    let max_age: HashMap<String, i64> = loaded
        .sets
        .iter()
        .flat_map(|s| {
            let secs = s.config.rotation.cache_max_age.secs();
            plan_set(s, ctx.now, options).into_iter().map(move |f| (f.path, secs))
        })
        .collect();
    let fallback = loaded.sets.iter().map(|s| s.config.rotation.cache_max_age.secs()).min().unwrap_or(3600);
    files
        .into_iter()
        .filter_map(|f| {
            let rel = f.path.strip_prefix("public/")?.to_string();
            if NOT_UPLOADED.contains(&rel.as_str()) {
                return None;
            }
            let set_age = max_age.get(&f.path).copied();
            let content_type = if set_age.is_some() { "application/json" } else { site_content_type(&rel) };
            let cache_control = (content_type == "application/json")
                .then(|| format!("public, max-age={}", set_age.unwrap_or(fallback)));
            Some(Wanted { key: target.key(&rel), bytes: f.bytes, content_type, cache_control })
        })
        .collect()
}

/// What `publish` will do, decided before anything changes.
#[derive(Debug, Default)]
struct Decision {
    upload: Vec<usize>,
    kept: Vec<usize>,
    delete: Vec<String>,
}

/// Lists the store and HEADs, in parallel, the objects whose bytes match and the candidates for
/// deletion (an object is deleted only when it carries the mark).
fn decide(
    store: &Store,
    target: &Target,
    wanted: &[Wanted],
    owned: &dyn Fn(&str) -> bool,
    bar: &work::Bar,
) -> Result<Decision> {
    let listed: BTreeMap<String, Listed> =
        store.list(&target.list_prefix())?.into_iter().map(|l| (l.key.clone(), l)).collect();
    let ours = prefix_mark(&target.prefix);
    let ours = ours.as_str();
    let by_key: HashMap<&str, usize> = wanted.iter().enumerate().map(|(i, w)| (w.key.as_str(), i)).collect();
    let mut decision = Decision::default();
    let mut to_head: Vec<String> = Vec::new();
    for (i, w) in wanted.iter().enumerate() {
        match listed.get(&w.key) {
            Some(l) if l.size == w.bytes.len() as u64 && l.etag == md5_hex(&w.bytes) => to_head.push(w.key.clone()),
            _ => decision.upload.push(i),
        }
    }
    let prefix = target.list_prefix();
    let extra: Vec<String> = listed
        .keys()
        .filter(|k| !by_key.contains_key(k.as_str()))
        .filter(|k| k.strip_prefix(&prefix).is_some_and(owned))
        .cloned()
        .collect();
    to_head.extend(extra.iter().cloned());
    bar.grow(to_head.len() + decision.upload.len());
    let heads = work::parallel(&to_head, |key| store.head(key).inspect(|_| bar.inc()))?;
    for (key, head) in to_head.iter().zip(heads) {
        match (by_key.get(key.as_str()), head) {
            (Some(&i), Some(h)) if wanted[i].in_place(&h, ours) => decision.kept.push(i),
            (Some(&i), _) => decision.upload.push(i),
            // Ours, unless another deployment of the bucket (another prefix) published it.
            (None, Some(h)) if h.marked && h.prefix_mark.as_deref().is_none_or(|p| p == ours) => {
                decision.delete.push(key.clone())
            }
            (None, _) => {}
        }
    }
    decision.upload.sort_unstable();
    Ok(decision)
}

/// Refuses a stale `out/public/` as `check` reports it: the differing files on stdout, exit 1.
fn refuse_stale(ctx: &Context, plan: &[Planned], owner: &dyn Ownership) -> Result<()> {
    let diffs = diff_public(&ctx.out, plan, owner)?;
    if diffs.is_empty() {
        return Ok(());
    }
    for d in &diffs {
        ctx.ui.data(&format!("{d}\n"));
    }
    Err(Error::Failed(format!(
        "{} is stale: {} file{} from what `jwksmith build` would write; run `jwksmith build` first (nothing was uploaded)",
        ctx.out.join("public").display(),
        diffs.len(),
        if diffs.len() == 1 { " differs" } else { "s differ" }
    )))
}

/// Runs `publish URL`.
pub fn run(ctx: &Context, url: &str) -> Result<()> {
    let target = Target::parse(url)?;
    // `load`, not the build's reuse of proven self-tests: that reads out/private/, which
    // publish never touches.
    let selection = Selection::read(ctx, load(ctx)?)?;
    let plan = crate::plan::plan(&selection.inputs(false), ctx.now)?;
    let owner = selection.ownership();
    refuse_stale(ctx, &plan.files, owner)?;
    // Every set was loaded: the plan writes every file, none is kept from a record.
    let files: Vec<OutputFile> = plan
        .files
        .into_iter()
        .filter_map(|p| match p {
            Planned::Write(file) => Some(file),
            Planned::Keep(_) => None,
        })
        .collect();
    let wanted = wanted(ctx, &target, files, &selection.loaded);
    let store = Store::from_env(&target.bucket)?;
    let bar = work::Bar::new(ctx);
    let decision = decide(&store, &target, &wanted, &|rel| owner.owns(&format!("public/{rel}")), &bar)?;
    let ours = prefix_mark(&target.prefix);
    work::parallel(&decision.upload, |&i| {
        let w = &wanted[i];
        store.put(&w.key, &w.bytes, w.headers(&ours)).inspect(|()| bar.inc())
    })?;
    store.delete(&decision.delete)?;
    bar.finish();
    for &i in &decision.upload {
        ctx.ui.report(&format!("uploaded {}", store.name(&wanted[i].key)));
    }
    for &i in &decision.kept {
        ctx.ui.note(&format!("kept {}", store.name(&wanted[i].key)));
    }
    for key in &decision.delete {
        ctx.ui.report(&format!("deleted {}", store.name(key)));
    }
    ctx.ui.report(&format!(
        "{}: {} uploaded, {} kept, {} deleted",
        store.name(&target.list_prefix()),
        decision.upload.len(),
        decision.kept.len(),
        decision.delete.len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("s3://keys-bucket/site/v1/").unwrap();
        assert_eq!((t.bucket.as_str(), t.prefix.as_str()), ("keys-bucket", "site/v1"));
        assert_eq!(t.key("jwks.json"), "site/v1/jwks.json");
        assert_eq!(t.list_prefix(), "site/v1/");
        let root = Target::parse("s3://b").unwrap();
        assert_eq!((root.key("a/jwks.json"), root.list_prefix()), ("a/jwks.json".to_string(), String::new()));
        for bad in ["https://b/x", "s3://", "s3:///x", "s3://B", "s3://b/../x", "s3://b/a//c"] {
            assert!(matches!(Target::parse(bad), Err(Error::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn site_types() {
        assert_eq!(site_content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(site_content_type("tenants/a/index.html"), "text/html; charset=utf-8");
        assert_eq!(site_content_type("x"), "application/octet-stream");
    }
}
