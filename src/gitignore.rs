//! Hand-dropped private keys that git would commit: a `<name>.pem` holding a private key in a
//! git work tree where git's own rules (`.gitignore` files, `.git/info/exclude`,
//! `core.excludesFile`) do not ignore it. `git add keys`, the README's CI step, would stage it.
//!
//! git itself decides, in one `git check-ignore` for all such files. Outside a work tree, or
//! without git on `PATH`, nothing is reported: this is a warning, never an error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::model::KeySet;

/// The hand-dropped `<name>.pem` files of a set that hold a private key.
pub(crate) fn dropped_private_keys(set: &KeySet) -> Vec<PathBuf> {
    let pem = |f: &&PathBuf| f.extension().is_some_and(|e| e == "pem");
    set.keys
        .iter()
        .filter(|k| k.hand_dropped && k.has_private())
        .flat_map(|k| k.files.iter().filter(pem).cloned())
        .collect()
}

/// The files among `files` that git would not ignore, asked of git in one call (run in the
/// directory of the first file). Empty when git is missing, the files are not in a work tree,
/// or git fails in any way.
pub(crate) fn not_ignored(files: &[PathBuf]) -> Vec<PathBuf> {
    let Some(first) = files.first() else { return Vec::new() };
    let Ok(absolute) = files.iter().map(std::path::absolute).collect::<Result<Vec<PathBuf>, _>>() else {
        return Vec::new();
    };
    let dir = first.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let child = Command::new("git")
        .args(["check-ignore", "-z", "--stdin"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return Vec::new() };
    let mut input = Vec::new();
    for path in &absolute {
        input.extend_from_slice(path.as_os_str().as_encoded_bytes());
        input.push(0);
    }
    let stdin = child.stdin.take();
    // Written beside the reading of stdout, so neither pipe can fill up and stall git.
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    });
    let output = child.wait_with_output();
    let _ = writer.join();
    let Ok(output) = output else { return Vec::new() };
    // 0: some are ignored; 1: none is; anything else (128: not a work tree) says nothing.
    if !matches!(output.status.code(), Some(0 | 1)) {
        return Vec::new();
    }
    let ignored: Vec<&[u8]> = output.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()).collect();
    files
        .iter()
        .zip(&absolute)
        .filter(|(_, abs)| !ignored.contains(&abs.as_os_str().as_encoded_bytes()))
        .map(|(file, _)| file.clone())
        .collect()
}

/// The warning for a hand-dropped private key that git does not ignore.
pub(crate) fn warning(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".pem").unwrap_or(&name);
    format!(
        "{}: holds a private key that git does not ignore: `git add keys` would commit it; run `jwksmith import {}` (it becomes the managed {stem}.key.pem), encrypt it with age (as {name}.age), or make git ignore it",
        file.display(),
        crate::ui::shell_quoted(file)
    )
}

/// The warnings for the hand-dropped private keys among `files` that git would commit.
pub(crate) fn warnings(files: &[PathBuf]) -> Vec<String> {
    not_ignored(files).iter().map(|f| warning(f)).collect()
}
