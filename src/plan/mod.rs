//! The planner: the sets and `now` in, every file of `out/` the run is responsible for out.
//! Pure: no disk, no clock. One set's files are [`plan_set`]; [`plan`] plans a run whose sets
//! are all loaded at once (`build --set`, a build into a read-only `out/`, `check --set`,
//! `publish`) with the site and the checks of the whole plan. A build of every set plans its
//! sets in batches with the same pieces (`crate::cmd::build`), and keeps the files of the sets
//! its record proves current; the plan is the same either way.

mod checks;
mod discovery;
mod set;

use std::borrow::Cow;
use std::ops::Range;

use rayon::prelude::*;

pub(crate) use checks::MirrorClaim;
pub(crate) use checks::{check_collisions, check_mirrors, owner};
pub(crate) use set::current_of_spec;
pub use set::{PlanOptions, plan_set};

use crate::error::Result;
use crate::layout::OutputFile;
pub(crate) use crate::layout::Planned;
use crate::model::KeySet;
use crate::site::{SITE_FILES, Site, SiteSet, site_set};
use crate::times::Timestamp;

/// Where one set's part of the plan comes from.
pub(crate) enum SetSource<'a> {
    /// Read this run: its files are planned from the model.
    Loaded(&'a KeySet),
    /// Not selected by `build --set` or `check --set`: its files are left alone, but its mirror
    /// claim (when its mirrors are on) still counts.
    Unselected(Option<&'a MirrorClaim>),
}

/// Where the site files (`index.html`, `_headers`, `.nojekyll`, `404.html`) come from.
pub(crate) enum SiteSource<'a> {
    /// Rendered with these templates; `index_size` is the size of the last `index.html`, if
    /// known (a buffer hint, never a change of bytes).
    Render { site: &'a Site, index_size: Option<u64> },
    /// Left alone (a run of selected sets).
    Untouched,
}

/// Everything a plan is made from, but the instant.
pub(crate) struct Inputs<'a> {
    /// Every set of `keys/`, in walk order.
    pub(crate) sets: Vec<SetSource<'a>>,
    /// The site files.
    pub(crate) site: SiteSource<'a>,
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
    /// For each of [`Inputs::sets`], in order: its part of `files`.
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
    owner: String,
    files: Vec<Planned>,
    site: Option<SiteSet>,
}

/// Plans every file at `now`. Fails, before anything is written, when two sets' mirrors claim
/// the same ids, when an output would be both a file and a directory, or when a template does
/// not render.
pub(crate) fn plan(inputs: &Inputs, now: Timestamp) -> Result<Plan> {
    check_mirrors(claims(&inputs.sets).iter().map(Cow::as_ref))?;
    let parts: Vec<Part> = inputs.sets.par_iter().map(|source| part(source, now, inputs.options)).collect();
    let set_files = parts.iter().flat_map(|p| p.files.iter().map(|f| (f.path(), p.owner.as_str())));
    let site_paths: &[&str] = if matches!(inputs.site, SiteSource::Untouched) { &[] } else { &SITE_FILES };
    let site_files = site_paths.iter().map(|p| (*p, "the site"));
    let untouched = inputs.untouched.iter().map(|f| (f.as_str(), "a set this build does not select"));
    check_collisions(set_files.chain(site_files).chain(untouched))?;
    let site = site_files_of(&inputs.site, &parts)?;
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

/// One set's part: a loaded set planned at `now` (with what it shows on the site), nothing of
/// an unselected set.
fn part(source: &SetSource, now: Timestamp, options: PlanOptions) -> Part {
    match source {
        SetSource::Loaded(set) => Part {
            owner: owner(&set.path),
            files: plan_set(set, now, options).into_iter().map(Planned::Write).collect(),
            site: Some(site_set(set, now)),
        },
        SetSource::Unselected(_) => Part { owner: String::new(), files: Vec::new(), site: None },
    }
}

/// The site files: rendered from every set's row and files, or none.
fn site_files_of(source: &SiteSource, parts: &[Part]) -> Result<Vec<Planned>> {
    match source {
        SiteSource::Render { site, index_size } => {
            let sets: Vec<(&SiteSet, Vec<&str>)> = parts
                .iter()
                .filter_map(|p| Some((p.site.as_ref()?, p.files.iter().map(Planned::path).collect())))
                .collect();
            Ok(site.files(&sets, *index_size)?.into_iter().map(Planned::Write).collect())
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

    fn inputs<'a>(sets: Vec<SetSource<'a>>, site: SiteSource<'a>, untouched: &'a [String]) -> Inputs<'a> {
        Inputs { sets, site, untouched, options: OPTIONS }
    }

    #[test]
    fn a_plan_holds_each_sets_files_in_set_order_then_the_sites() {
        let (a, b) = (set("a", false), set("b", false));
        let site = Site::new(Vec::new()).unwrap();
        let render = SiteSource::Render { site: &site, index_size: None };
        let plan = plan(&inputs(vec![SetSource::Loaded(&a), SetSource::Loaded(&b)], render, &[]), now()).unwrap();
        let paths = |range: Range<usize>| plan.files[range].iter().map(Planned::path).collect::<Vec<_>>();
        let of_b: Vec<String> = plan_set(&b, now(), OPTIONS).into_iter().map(|f| f.path).collect();
        assert_eq!(paths(plan.sets[1].files.clone()), of_b);
        assert!(
            paths(plan.sets[0].files.clone()).iter().all(|p| p.starts_with("public/a/") || p.starts_with("private/a/"))
        );
        assert_eq!(paths(plan.sets[1].files.end..plan.files.len()), SITE_FILES);
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
