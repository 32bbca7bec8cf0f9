//! A build into a read-only `out/`: it succeeds, writing nothing, when `out/` already holds
//! exactly what the build would write (modes may lack write bits); otherwise it fails naming
//! `out/` and the first files it would change.

use super::{Summary, plural};
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::write::{WriteReport, read_only_changes};

/// Builds into a read-only `out/` (`why` it is one).
pub(super) fn run(ctx: &Context, pretty: bool, why: &std::io::Error) -> Result<Summary> {
    let (selection, plan) = super::load_and_plan(ctx, pretty)?;
    let changes = read_only_changes(&ctx.out, &plan.files, selection.ownership())?;
    if !changes.is_empty() {
        let shown: Vec<&str> = changes.iter().take(3).map(String::as_str).collect();
        let more = if changes.len() > shown.len() { ", …" } else { "" };
        return Err(Error::input(
            &ctx.out,
            format!(
                "cannot be written ({why}), and the build would change {} file{} there: {}{more}",
                changes.len(),
                plural(changes.len()),
                shown.join(", ")
            ),
            "make it writable (`chmod -R u+w`), or pass another --out DIR",
        ));
    }
    let report = WriteReport { unchanged: plan.files.len(), ..WriteReport::default() };
    Ok(Summary::of_loaded(&selection.loaded, ctx.now, report))
}
