//! The planner: the sets and `now` in, every file of `out/` the run is responsible for out.
//! Pure: no disk, no clock. One set's files, its page included, are [`plan_loaded`]; [`plan`]
//! plans a run whose sets are all loaded at once (`build --set`, a build into a read-only
//! `out/`, `check --set`, `publish`) with the site files and the checks of the whole plan. A
//! build of every set plans its sets in batches with the same pieces (`crate::cmd::build`) and
//! keeps the files of the sets its record proves current; the plan is the same either way.

mod checks;
mod discovery;
mod set;

use std::borrow::Cow;
use std::ops::Range;

use rayon::prelude::*;

pub(crate) use checks::MirrorClaim;
pub(crate) use checks::{Owner, check_collisions, check_mirrors};
pub(crate) use discovery::{members_bytes, signing_algs};
pub use set::{PlanOptions, plan_set};
pub(crate) use set::{current_of_spec, published_keys};

use crate::error::Result;
use crate::layout::OutputFile;
pub(crate) use crate::layout::Planned;
use crate::model::KeySet;
use crate::site::{HeaderSet, Site, SiteSet, site_set};
use crate::times::Timestamp;

/// Where one set's part of the plan comes from.
pub(crate) enum SetSource<'a> {
    /// Read this run: its files are planned from the model.
    Loaded(&'a KeySet),
    /// Not selected by `build --set` or `check --set`: its files are left alone, but its mirror
    /// claim (when its mirrors are on) still counts.
    Unselected(Option<&'a MirrorClaim>),
}

/// Where the site-wide files (the root chain of pages, `_headers`, `.nojekyll`, `404.html`)
/// come from.
pub(crate) enum SiteSource {
    /// Rendered with the templates, from the root set's row and every set's publish path (and
    /// files, for `_headers`).
    Render,
    /// Left alone (a run of selected sets).
    Untouched,
}

/// Everything a plan is made from, but the instant.
pub(crate) struct Inputs<'a> {
    /// Every set of `keys/`, in walk order.
    pub(crate) sets: Vec<SetSource<'a>>,
    /// The templates: the pages of loaded sets, and the site files when rendered.
    pub(crate) templates: &'a Site,
    /// The site files.
    pub(crate) site: SiteSource,
    /// Files of `out/` the run leaves alone and its files must not collide with (a run of
    /// selected sets: the other sets' files and the site's), relative to `out/`.
    pub(crate) untouched: &'a [String],
    /// Options that change the bytes.
    pub(crate) options: PlanOptions,
}

/// The files of a run: every set's in set order, then the site's.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Every file.
    pub(crate) files: Vec<Planned>,
    /// For each of [`Inputs::sets`], in order: its part of `files`, and what a loaded set
    /// shows on the site (the record keeps it).
    pub(crate) sets: Vec<PlannedSet>,
}

/// One set's part of a [`Plan`].
#[derive(Debug)]
pub(crate) struct PlannedSet {
    /// Where its files are in [`Plan::files`].
    pub(crate) files: Range<usize>,
}

impl Plan {
    /// The files to write (with their bytes), in plan order.
    pub(crate) fn written(&self) -> impl Iterator<Item = &OutputFile> {
        crate::layout::written(&self.files)
    }
}

/// One set's files as the planner made them, with what it shows on the site.
struct Part {
    /// The set's publish path (empty for an unselected set, which has no files).
    path: String,
    files: Vec<Planned>,
    site: Option<SiteSet>,
}

/// Plans every file at `now`. Fails, before anything is written, when two sets' mirrors claim
/// the same ids, when an output would be both a file and a directory, or when a template does
/// not render.
pub(crate) fn plan(inputs: &Inputs, now: Timestamp) -> Result<Plan> {
    check_mirrors(claims(&inputs.sets).iter().map(Cow::as_ref))?;
    let parts: Vec<Part> = inputs
        .sets
        .par_iter()
        .map(|source| part(source, now, inputs.options, inputs.templates))
        .collect::<Result<_>>()?;
    let site = site_files_of(&inputs.site, inputs.templates, &parts)?;
    let set_files = parts.iter().flat_map(|p| p.files.iter().map(|f| (f.path(), Owner::Set(&p.path))));
    let site_files = site.iter().map(|f| (f.path(), Owner::Site));
    let untouched = inputs.untouched.iter().map(|f| (f.as_str(), Owner::Unselected));
    check_collisions(set_files.chain(site_files).chain(untouched))?;
    let mut plan = Plan { files: Vec::new(), sets: Vec::with_capacity(parts.len()) };
    for part in parts {
        let start = plan.files.len();
        plan.files.extend(part.files);
        plan.sets.push(PlannedSet { files: start..plan.files.len() });
    }
    plan.files.extend(site);
    Ok(plan)
}

/// The mirror claims of every set: the planned sets' in walk order, then the unselected ones'
/// (the order decides which of two clashing sets the error names first).
fn claims<'a>(sets: &'a [SetSource<'a>]) -> Vec<Cow<'a, MirrorClaim>> {
    let planned = sets.iter().filter_map(|source| match source {
        SetSource::Loaded(set) => MirrorClaim::of(set).map(Cow::Owned),
        SetSource::Unselected(_) => None,
    });
    let unselected = sets.iter().filter_map(|source| match source {
        SetSource::Unselected(claim) => claim.map(Cow::Borrowed),
        SetSource::Loaded(_) => None,
    });
    planned.chain(unselected).collect()
}

/// Every file of one loaded set at `now`, its page included (`<publish path>/index.html`, for
/// every set but the root set, whose page is the root page of the site), and what it shows on
/// the site.
pub(crate) fn plan_loaded(
    set: &KeySet,
    now: Timestamp,
    options: PlanOptions,
    templates: &Site,
) -> Result<(Vec<OutputFile>, SiteSet)> {
    let row = site_set(set, now);
    let mut files = plan_set(set, now, options);
    if !set.path.is_empty() {
        files.push(templates.set_page(&row)?);
    }
    Ok((files, row))
}

/// One set's part: a loaded set planned at `now` (with what it shows on the site), nothing of
/// an unselected set.
fn part(source: &SetSource, now: Timestamp, options: PlanOptions, templates: &Site) -> Result<Part> {
    Ok(match source {
        SetSource::Loaded(set) => {
            let (files, row) = plan_loaded(set, now, options, templates)?;
            Part { path: set.path.clone(), files: files.into_iter().map(Planned::Write).collect(), site: Some(row) }
        }
        SetSource::Unselected(_) => Part { path: String::new(), files: Vec::new(), site: None },
    })
}

/// The site files: rendered from the root set's row, every set's publish path and files, or
/// none.
fn site_files_of(source: &SiteSource, templates: &Site, parts: &[Part]) -> Result<Vec<Planned>> {
    match source {
        SiteSource::Render => {
            let sets: Vec<(&SiteSet, Vec<&str>)> = parts
                .iter()
                .filter_map(|p| Some((p.site.as_ref()?, p.files.iter().map(Planned::path).collect())))
                .collect();
            let root = sets.iter().map(|(s, _)| *s).find(|s| s.path.is_empty());
            let paths: Vec<&str> = sets.iter().map(|(s, _)| s.path.as_str()).filter(|p| !p.is_empty()).collect();
            let headers: Vec<HeaderSet> = sets.into_iter().map(|(s, files)| s.header_set(files)).collect();
            Ok(templates.files(root, &paths, &headers)?.into_iter().map(Planned::Write).collect())
        }
        SiteSource::Untouched => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeysetConfig;

    const OPTIONS: PlanOptions = PlanOptions { force_pretty: false };

    fn now() -> Timestamp {
        Timestamp::from_unix(1_767_225_600)
    }

    fn set(path: &str, api_mirrors: bool) -> KeySet {
        let config = KeysetConfig { api_mirrors, ..KeysetConfig::default() };
        let dir = format!("keys/{path}").into();
        KeySet { path: path.into(), dir, config, config_file: None, keys: Vec::new(), unfinished: Vec::new() }
    }

    fn templates() -> &'static Site {
        static SITE: std::sync::OnceLock<Site> = std::sync::OnceLock::new();
        SITE.get_or_init(|| Site::new(Vec::new()).unwrap())
    }

    fn inputs<'a>(sets: Vec<SetSource<'a>>, site: SiteSource, untouched: &'a [String]) -> Inputs<'a> {
        Inputs { sets, templates: templates(), site, untouched, options: OPTIONS }
    }

    #[test]
    fn a_plan_holds_each_sets_files_in_set_order_then_the_sites() {
        let (a, b) = (set("a", false), set("b", false));
        let plan = plan(&inputs(vec![SetSource::Loaded(&a), SetSource::Loaded(&b)], SiteSource::Render, &[]), now());
        let plan = plan.unwrap();
        let paths = |range: Range<usize>| plan.files[range].iter().map(Planned::path).collect::<Vec<_>>();
        let (of_b, _) = plan_loaded(&b, now(), OPTIONS, templates()).unwrap();
        assert!(of_b.iter().any(|f| f.path == "public/b/index.html"), "a set's page is one of its files");
        assert_eq!(paths(plan.sets[1].files.clone()), of_b.iter().map(|f| f.path.as_str()).collect::<Vec<_>>());
        assert!(
            paths(plan.sets[0].files.clone()).iter().all(|p| p.starts_with("public/a/") || p.starts_with("private/a/"))
        );
        let site_paths = ["public/index.html", "public/_headers", "public/.nojekyll", "public/404.html"];
        assert_eq!(paths(plan.sets[1].files.end..plan.files.len()), site_paths);
    }

    #[test]
    fn a_selected_set_must_not_collide_with_the_files_it_leaves_alone() {
        let x = set("x", false);
        let untouched = vec!["public/x".to_string()];
        let err = plan(&inputs(vec![SetSource::Loaded(&x)], SiteSource::Untouched, &untouched), now()).unwrap_err();
        assert!(err.to_string().contains("a set this build does not select"), "{err}");
        let alone = plan(&inputs(vec![SetSource::Loaded(&x)], SiteSource::Untouched, &[]), now()).unwrap();
        assert_eq!(alone.sets[0].files.end, alone.files.len(), "no site files");
    }

    #[test]
    fn an_unselected_sets_mirror_claim_still_counts() {
        let (a, b) = (set("a", true), set("b", true));
        let claim = MirrorClaim::of(&b).unwrap();
        let sets = vec![SetSource::Unselected(Some(&claim)), SetSource::Loaded(&a)];
        let err = plan(&inputs(sets, SiteSource::Untouched, &[]), now()).unwrap_err();
        assert!(err.to_string().contains("service_id `example`"), "{err}");
        let sets = vec![SetSource::Unselected(None), SetSource::Loaded(&a)];
        assert!(plan(&inputs(sets, SiteSource::Untouched, &[]), now()).is_ok());
    }
}
