//! Where outputs go: one file to write under `out/` ([`OutputFile`]), one file as a build left
//! it (`Output`), an entry of a plan (`Planned`: one or the other), and the layout of paths
//! there. A leaf of the crate: the planner makes these, the writer applies them, the self-test
//! reads back what a build left under `out/private/`.

/// One file under `out/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Path relative to `out/`, `/`-separated, starting with `public/` or `private/`.
    pub path: String,
    /// Exact contents.
    pub bytes: Vec<u8>,
    /// Private files are 0600 in 0700 directories; public ones 0644 in 0755.
    pub private: bool,
}

/// Where a set's files go under `public/` or `private/`: `""` or `tenants/acme/`.
pub(crate) fn set_prefix(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!("{path}/") }
}

/// The directories above a `/`-separated relative path, nearest first.
pub(crate) fn parents(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(path.rsplit_once('/').map(|(dir, _)| dir), |dir| dir.rsplit_once('/').map(|(up, _)| up))
}

/// A file under `out/` as a build left it: its path and the stamp it had then (what the record
/// of incremental builds keeps, and what a plan keeps without writing).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Output {
    /// Path relative to `out/`.
    pub(crate) path: String,
    /// Its stamp once in place.
    pub(crate) stamp: crate::stamp::Stamp,
}

/// One file of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Planned {
    /// Written unless the disk already holds these bytes.
    Write(OutputFile),
    /// Left as the last build wrote it.
    #[allow(dead_code, reason = "the batched build keeps recorded files itself; to go with the planner's next change")]
    Keep(Output),
}

impl Planned {
    /// Its path relative to `out/`.
    pub(crate) fn path(&self) -> &str {
        match self {
            Planned::Write(file) => &file.path,
            Planned::Keep(output) => &output.path,
        }
    }
}

/// The files of `plan` to write (with their bytes), in plan order.
pub(crate) fn written(plan: &[Planned]) -> impl Iterator<Item = &OutputFile> {
    plan.iter().filter_map(|f| match f {
        Planned::Write(file) => Some(file),
        Planned::Keep(_) => None,
    })
}
