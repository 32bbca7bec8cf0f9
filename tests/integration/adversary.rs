//! What a black-box probe of the data-safety work found, each a case the first tests missed:
//! links inside `out/` that lead into `keys/`, a git repository below `out/public/`, a killed
//! build's private temporary file where `git add out` stages it, directories made under a
//! restrictive umask by a user who is not root, a build record under `keys/` or `out/`, and
//! FIFOs under `keys/` or the templates with names jwksmith does not read.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::common::{EC_SPECS, NOW, Project};

/// A built project with EC keys (fast) in a git work tree, with the `.gitignore` of `init`.
fn built_in_git() -> Project {
    let p = Project::with_keyset(EC_SPECS);
    crate::common::tool("git", &["init", "-q"], p.path());
    p.ok(&["init", "-q"]);
    p.ok(&["rotate", "-q", "--now", NOW]);
    p.ok(&["build", "-q", "--now", NOW]);
    p
}

fn run_env(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jwksmith"))
        .args(args)
        .current_dir(p.path())
        .env("JWKSMITH_CACHE_DIR", p.at(".jwksmith-cache"))
        .envs(env.iter().copied())
        .output()
        .expect("run jwksmith")
}

#[test]
fn links_inside_out_never_lead_the_build_into_keys() {
    for (link, target) in [("out/private", "../keys"), ("out/public", "../keys"), ("out/private/sub", "../../keys")] {
        let p = built_in_git();
        p.write("keys/sub/keyset.toml", EC_SPECS.as_bytes());
        p.ok(&["rotate", "-q", "--now", NOW]);
        p.ok(&["build", "-q", "--now", NOW]);
        let keys = p.snapshot("keys");
        std::fs::remove_dir_all(p.at(link)).unwrap();
        std::os::unix::fs::symlink(target, p.at(link)).unwrap();
        p.ok(&["build", "-q", "--now", NOW]);
        assert_eq!(p.snapshot("keys"), keys, "{link} -> {target}: keys/ unchanged");
        let meta = std::fs::symlink_metadata(p.at(link)).unwrap();
        assert!(meta.is_dir(), "{link} is a real directory again");
        p.ok(&["check", "--now", NOW]);
    }
}

#[test]
fn a_git_repository_below_out_is_refused_not_removed() {
    let p = built_in_git();
    crate::common::tool("git", &["init", "-q", "out/public"], p.path());
    // Something to write, and the repository's files to remove if the build went on.
    std::fs::remove_file(p.at("out/public/jwt-keys.json")).unwrap();
    let before = p.snapshot("out");
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("out/public/.git"), "{stderr}");
    assert_eq!(p.snapshot("out"), before, "nothing written or removed");
    insta::assert_snapshot!("git_below_out", stderr);
}

#[test]
fn a_killed_build_leaves_no_private_temporary_file_git_would_stage() {
    // Every step of a build that writes every private file anew, killed in turn.
    for step in 1..=60 {
        let q = built_in_git();
        std::fs::remove_dir_all(q.at("out")).unwrap();
        let out = run_env(&q, &["build", "-q", "--now", NOW], &[("JWKSMITH_FAILPOINT", &step.to_string())]);
        if out.status.success() {
            break;
        }
        let status = crate::common::tool("git", &["status", "--porcelain", "--untracked-files=all"], q.path());
        let status = String::from_utf8(status).unwrap();
        for line in status.lines() {
            let path = line[3..].trim();
            let bytes = std::fs::read(q.at(path)).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("PRIVATE KEY")
                    && !String::from_utf8_lossy(&bytes).contains("\"d\""),
                "step {step}: `git add` would stage private key material in {path}"
            );
        }
    }
}

#[test]
fn directories_made_under_a_restrictive_umask_stay_usable_for_a_user_who_is_not_root() {
    let p = Project::new();
    std::fs::set_permissions(p.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = |args: &str| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c"])
            .arg(format!("umask 0277; exec \"$0\" {args}"))
            .arg(env!("CARGO_BIN_EXE_jwksmith"))
            .current_dir(p.path())
            .env("JWKSMITH_CACHE_DIR", "off")
            .output()
            .expect("run setpriv")
    };
    for args in ["init", "rotate --now 2026-01-01T00:00:00Z", "build --now 2026-01-01T00:00:00Z"] {
        let out = run(args);
        assert!(out.status.success(), "{args}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(p.at(".gitignore").is_file(), "init wrote .gitignore");
    let mode = |rel: &str| std::fs::metadata(p.at(rel)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("out/private"), 0o700);
    assert_eq!(mode("out/private/jwks.json"), 0o600);
    assert_eq!(mode("keys/rsa-sig-001.key.pem"), 0o600);
}

#[test]
fn a_build_record_is_never_kept_under_keys_or_out() {
    for cache in ["out/cache", "keys/.cache", "out/public"] {
        let p = Project::with_keyset(EC_SPECS);
        p.ok(&["rotate", "-q", "--now", NOW]);
        for _ in 0..2 {
            let out =
                run_env(&p, &["build", "-q", "--now", NOW], &[("JWKSMITH_CACHE_DIR", &p.at(cache).to_string_lossy())]);
            assert!(out.status.success(), "{cache}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let found = walkdir::WalkDir::new(p.path())
            .into_iter()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("build-"));
        assert!(!found, "JWKSMITH_CACHE_DIR={cache}: no record written there");
        p.ok(&["check", "--now", NOW]);
    }
}

#[test]
fn a_fifo_under_keys_or_the_templates_is_an_error_whatever_its_name() {
    for (fifo, args) in
        [("keys/notes.txt", vec![]), ("site-template/README2", vec![]), ("tmpl.fifo", vec!["--templates", "tmpl.fifo"])]
    {
        let p = Project::with_keyset(EC_SPECS);
        p.ok(&["rotate", "-q", "--now", NOW]);
        std::fs::create_dir_all(p.at("site-template")).unwrap();
        crate::common::tool("mkfifo", &[fifo], p.path());
        let start = std::time::Instant::now();
        let mut argv = vec!["build", "--now", NOW];
        argv.extend(args.iter().copied());
        let stderr = p.fails(&argv, 1);
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{fifo}: no hang");
        assert!(stderr.contains(fifo), "{fifo}: {stderr}");
    }
}

/// SPEC §2: any file under `keys/` or the templates over 1 MiB is an error naming it, whatever
/// its name (read or not); exactly 1 MiB is not. A link to a directory is not followed.
#[test]
fn a_file_over_1_mib_under_keys_or_the_templates_is_an_error_whatever_its_name() {
    let p = Project::with_keyset(EC_SPECS);
    p.ok(&["rotate", "-q", "--now", NOW]);
    p.ok(&["build", "-q", "--now", NOW]);
    let before = p.snapshot("out");
    for big in ["keys/notes.txt", "keys/tenants/acme/blob.bin", "site-template/logo.png", "keys/.hidden-big.pem"] {
        std::fs::create_dir_all(p.at(big).parent().unwrap()).unwrap();
        p.write(big, &vec![b'x'; (1 << 20) + 1]);
        if big.contains(".hidden") {
            // Hidden entries are not walked at all.
            p.ok(&["build", "-q", "--now", NOW]);
        } else {
            for cmd in ["build", "check"] {
                let stderr = p.fails(&[cmd, "--now", NOW], 1);
                assert!(stderr.contains(&format!("{big}: is 1048577 bytes")), "{cmd} {big}: {stderr}");
            }
            assert_eq!(p.snapshot("out"), before, "{big}: out/ left as it was");
        }
        p.write(big, &vec![b'x'; 1 << 20]);
        p.ok(&["build", "-q", "--now", NOW]);
        std::fs::remove_file(p.at(big)).unwrap();
    }
    // A link to a directory, inside keys/ or out of it, is not followed: no set comes of it.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("keyset.toml"), EC_SPECS).unwrap();
    std::os::unix::fs::symlink(outside.path(), p.at("keys/elsewhere")).unwrap();
    std::os::unix::fs::symlink("tenants", p.at("keys/alias")).unwrap();
    p.ok(&["build", "-q", "--now", NOW]);
    assert!(!p.at("out/public/elsewhere").exists() && !p.at("out/public/alias").exists());
}
