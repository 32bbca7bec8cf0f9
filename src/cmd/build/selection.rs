//! The plan's inputs when every selected set is loaded in full (`build --set`, a build into a
//! read-only `out/`, `check`): the I/O the planner does not do. The other sets' mirror claims
//! (their `keyset.toml`), the templates (when every set is selected) and the files of `out/`
//! the run leaves alone are read here, once, however often the sets are planned.

use std::collections::HashSet;

use crate::cmd::{Context, Loaded, SetOwnership};
use crate::error::Result;
use crate::keydir::{SetDir, config_of};
use crate::model::KeySet;
use crate::plan::{Inputs, MirrorClaim, PlanOptions, SetSource, SiteSource};
use crate::site::Site;
use crate::write::{All, Ownership, existing_files};

/// Loaded sets, and what else their plan needs.
pub(crate) struct Selection {
    /// The selected sets, loaded, and every set directory.
    pub(crate) loaded: Loaded,
    /// The mirror claims of the sets not selected, in walk order.
    others: Vec<Option<MirrorClaim>>,
    /// The templates: the selected sets' pages, and the site files when every set is selected
    /// (a `--set` run leaves the site-wide files alone).
    site: Site,
    /// Files of `out/` this run leaves alone.
    untouched: Vec<String>,
    /// Which existing files of `out/` this run may rewrite or remove.
    ownership: Box<dyn Ownership>,
    /// Every set is selected: the site-wide files are planned too.
    all_sets: bool,
}

impl Selection {
    /// Reads what the plan of `loaded` needs besides the sets.
    pub(crate) fn read(ctx: &Context, loaded: Loaded) -> Result<Selection> {
        // A set of paths, not a search of the sets per directory: check at 100,000 sets (issue 18).
        let selected: HashSet<&str> = loaded.sets.iter().map(|s| s.path.as_str()).collect();
        let unselected = loaded.dirs.iter().filter(|d| !selected.contains(d.path.as_str()));
        // Sets a `--set` build does not load keep their mirror paths: they count too.
        let others = unselected.map(claim_of_dir).collect::<Result<_>>()?;
        let site = crate::site::load(&ctx.templates)?;
        let ownership: Box<dyn Ownership> =
            if ctx.all_sets() { Box::new(All) } else { Box::new(SetOwnership::new(&ctx.sets, &loaded.dirs)) };
        // A `--set` build keeps the other sets' files: the planned ones must not collide with them.
        let untouched = if ctx.all_sets() || !ctx.out.is_dir() {
            Vec::new()
        } else {
            existing_files(&ctx.out)?.into_iter().filter(|f| !ownership.owns(f)).collect()
        };
        Ok(Selection { loaded, others, site, untouched, ownership, all_sets: ctx.all_sets() })
    }

    /// The plan's inputs: the loaded sets, then the others (for their claims).
    pub(crate) fn inputs(&self, pretty: bool) -> Inputs<'_> {
        let loaded = self.loaded.sets.iter().map(SetSource::Loaded);
        let others = self.others.iter().map(|claim| SetSource::Unselected(claim.as_ref()));
        Inputs {
            sets: loaded.chain(others).collect(),
            templates: &self.site,
            site: if self.all_sets { SiteSource::Render } else { SiteSource::Untouched },
            untouched: &self.untouched,
            options: PlanOptions { force_pretty: pretty },
        }
    }

    /// Which existing files of `out/` this run may rewrite or remove.
    pub(crate) fn ownership(&self) -> &dyn Ownership {
        self.ownership.as_ref()
    }
}

/// The mirror claim of the set at `dir` from its policy alone.
fn claim_of_dir(dir: &SetDir) -> Result<Option<MirrorClaim>> {
    let (config, file) = config_of(dir)?;
    let set = KeySet {
        path: dir.path.clone(),
        dir: dir.dir.clone(),
        config,
        config_file: file,
        keys: Vec::new(),
        unfinished: Vec::new(),
    };
    Ok(MirrorClaim::of(&set))
}
