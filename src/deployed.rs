//! `check --url BASE`: fetches every JSON file of the selected sets, and the page at `BASE/`,
//! from the deployed site, and compares each answer with what `build` writes now (SPEC §5.1).
//!
//! A file that is not answered 200 within 10 s is missing; a redirect is never followed (clients
//! such as `jose` refuse them); bytes that differ are stale. Those fail the check. A JSON file
//! without an `application/json` content type (for the extension-less discovery document and
//! mirrors, which some hosts cannot type, too), a `Cache-Control` max-age above the set's
//! `cache_max_age`, or no `Access-Control-Allow-Origin: *` is a warning. Nothing under
//! `out/private/` is ever fetched: the targets come from the public files of the plan.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::collections::HashMap;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::error::{Error, Result};
use crate::layout::{OutputFile, set_prefix};
use crate::model::KeySet;
use crate::plan::MirrorClaim;
use crate::ui::Ui;

/// How long one file may take, from connecting to the last byte of its body.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How many files are fetched at once.
const PARALLEL: usize = 16;
/// The largest body read: well above any file `build` writes (index pages stay under 1 MiB).
const BODY_LIMIT: u64 = 16 << 20;
/// Characters of a path segment that go percent-encoded into a URL.
const SEGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'<').add(b'>').add(b'?').add(b'`');

/// One file to fetch from the deployed site.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The path under `out/public/` (`tenants/acme/jwks.json`; `""` for the page at `BASE/`).
    pub path: String,
    /// The bytes `build` writes now, when they are known (the page of a `--set` check is not).
    pub bytes: Option<Vec<u8>>,
    /// The set's `cache_max_age` in seconds, for JSON files; `None` for the page.
    pub max_age: Option<i64>,
}

impl Target {
    fn extensionless(&self) -> bool {
        !self.path.rsplit('/').next().unwrap_or("").contains('.')
    }
}

/// The site files hosts do not serve as files: never fetched.
const NOT_SERVED: [&str; 3] = ["public/_headers", "public/.nojekyll", "public/404.html"];

/// What to fetch: every public JSON file of the plan of the loaded `sets`, each with its set's
/// `cache_max_age`, then the page at `BASE/` (with the bytes of `index.html` when the plan has
/// it: a check of every set).
pub(crate) fn targets(sets: &[KeySet], files: &[&OutputFile]) -> Vec<Target> {
    let mut owners: HashMap<String, i64> = HashMap::new();
    for set in sets {
        let age = set.config.rotation.cache_max_age.secs();
        if let Some(claim) = MirrorClaim::of(set) {
            owners.insert(format!("public/api/{}/service/jwks/get", claim.service_id), age);
            owners.insert(format!("public/projects/{}/jwt-keys", claim.project_id), age);
        }
    }
    let mut prefixes: Vec<(String, i64)> = sets
        .iter()
        .map(|s| (format!("public/{}", set_prefix(&s.path)), s.config.rotation.cache_max_age.secs()))
        .collect();
    // The deepest set whose directory holds a file owns it.
    prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let mut targets: Vec<Target> = files
        .iter()
        .filter(|f| !f.private && !NOT_SERVED.contains(&f.path.as_str()) && !f.path.ends_with(".html"))
        .filter_map(|f| {
            let age = owners
                .get(&f.path)
                .copied()
                .or_else(|| prefixes.iter().find(|(p, _)| f.path.starts_with(p.as_str())).map(|(_, a)| *a))?;
            let path = f.path.strip_prefix("public/")?.to_string();
            Some(Target { path, bytes: Some(f.bytes.clone()), max_age: Some(age) })
        })
        .collect();
    let index = files.iter().find(|f| f.path == "public/index.html").map(|f| f.bytes.clone());
    targets.push(Target { path: String::new(), bytes: index, max_age: None });
    targets
}

/// What a check of the deployed site found: lines that fail it and lines that warn.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// Missing, redirected or differing files, one line each naming the URL.
    pub failures: Vec<String>,
    /// Typing, caching and CORS problems, one line each naming the URL.
    pub warnings: Vec<String>,
}

/// `check --url BASE`: checks the deployed copies of the planned `files` of `sets`, prints a line
/// for each problem (failures on stdout, like the files `check` lists, and warnings), and
/// returns the error that fails the check, if any.
pub(crate) fn run(ui: &Ui, base: &str, sets: &[KeySet], files: &[&OutputFile]) -> Result<Option<Error>> {
    use std::io::IsTerminal;
    let targets = targets(sets, files);
    let progress = !ui.is_quiet() && std::io::stderr().is_terminal();
    let found = check(base, &targets, progress)?;
    for w in &found.warnings {
        ui.warn(w);
    }
    for line in &found.failures {
        ui.data(&format!("{line}\n"));
    }
    if found.failures.is_empty() {
        // The page at BASE/ of a `--set` check is fetched, but its bytes are not known to compare.
        let compared = targets.iter().filter(|t| t.bytes.is_some()).count();
        let mut line = format!("{compared} files served at {base} as jwksmith build writes them");
        if compared < targets.len() {
            line.push_str(&format!(
                "; the page at {}/ is served (a check with --set does not compare its bytes)",
                base.trim_end_matches('/')
            ));
        }
        ui.report(&line);
        return Ok(None);
    }
    Ok(Some(Error::Failed(format!(
        "the site at {base} does not serve what jwksmith build writes: {} of {} files missing, redirected or different; deploy out/public/ again",
        found.failures.len(),
        targets.len()
    ))))
}

/// Checks `BASE` (an `http://` or `https://` URL; anything else is a usage error).
pub(crate) fn check(base: &str, targets: &[Target], progress: bool) -> Result<Findings> {
    let base = parse_base(base)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("jwksmith/", env!("CARGO_PKG_VERSION"), " check --url"))
        .build()
        .into();
    let bar = if progress { progress_bar(targets.len()) } else { indicatif::ProgressBar::hidden() };
    let next = AtomicUsize::new(0);
    let found: Mutex<Vec<(usize, Findings)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(targets.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(i) else { break };
                    let f = check_one(&agent, &url_of(&base, &target.path), target);
                    found.lock().unwrap_or_else(|e| e.into_inner()).push((i, f));
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by_key(|(i, _)| *i);
    let mut all = Findings::default();
    for (_, f) in found {
        all.failures.extend(f.failures);
        all.warnings.extend(f.warnings);
    }
    Ok(all)
}

/// `BASE` without its trailing slashes, refused unless it is an HTTP(S) URL with a host.
fn parse_base(base: &str) -> Result<String> {
    let rest = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if host.is_none_or(str::is_empty) || base.contains(['?', '#']) || base.chars().any(char::is_whitespace) {
        return Err(Error::Usage(format!(
            "--url {base}: not the base URL of a site, such as https://keys.example.com or https://example.com/jwks"
        )));
    }
    Ok(base.trim_end_matches('/').to_string())
}

fn url_of(base: &str, path: &str) -> String {
    let encoded: Vec<String> = path.split('/').map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
    format!("{base}/{}", encoded.join("/"))
}

fn progress_bar(len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    let style = indicatif::ProgressStyle::with_template("fetching {bar:30} {pos}/{len} ({eta} left)")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Fetches one file and says what is wrong with it.
fn check_one(agent: &ureq::Agent, url: &str, target: &Target) -> Findings {
    let mut f = Findings::default();
    let response = match agent.get(url).call() {
        Ok(r) => r,
        Err(e) => {
            f.failures.push(format!("missing: {url} (no answer: {})", describe(&e)));
            return f;
        }
    };
    let status = response.status().as_u16();
    let header = |name: &str| -> Vec<String> {
        response.headers().get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
    };
    if (300..400).contains(&status) {
        let to = header("location").into_iter().next().unwrap_or_else(|| "nowhere".into());
        f.failures
            .push(format!("redirected: {url} (status {status} to {to}; clients such as jose do not follow redirects)"));
        return f;
    }
    if status != 200 {
        f.failures.push(format!("missing: {url} (status {status})"));
        return f;
    }
    let (content_type, cache_control, cors) =
        (header("content-type"), header("cache-control"), header("access-control-allow-origin"));
    let body = match response.into_body().with_config().limit(BODY_LIMIT).read_to_vec() {
        Ok(b) => b,
        Err(e) => {
            f.failures.push(format!("missing: {url} (the body could not be read: {})", describe(&e)));
            return f;
        }
    };
    if let Some(want) = &target.bytes
        && &body != want
    {
        f.failures.push(format!(
            "differs: {url} ({} bytes served, {} written by jwksmith build now; deploy out/public/ again, or wait for caches to expire)",
            body.len(),
            want.len()
        ));
    }
    if let Some(max_age) = target.max_age {
        f.warnings.extend(header_warnings(url, target.extensionless(), max_age, &content_type, &cache_control, &cors));
    }
    f
}

/// The warnings about a JSON file's headers.
fn header_warnings(
    url: &str,
    extensionless: bool,
    max_age: i64,
    content_type: &[String],
    cache_control: &[String],
    cors: &[String],
) -> Vec<String> {
    let mut w = Vec::new();
    let typed = content_type.len() == 1
        && content_type[0].split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !typed {
        let got = if content_type.is_empty() { "none".to_string() } else { content_type.join(" | ") };
        let why = if extensionless {
            " (this host cannot type files without an extension; see the README's deploy section)"
        } else {
            ""
        };
        w.push(format!("{url}: content type {got}, not application/json{why}"));
    }
    let ages: Vec<i64> = cache_control.iter().flat_map(|v| v.split(',')).filter_map(max_age_of).collect();
    if let Some(age) = ages.iter().copied().filter(|a| *a > max_age).max() {
        w.push(format!(
            "{url}: Cache-Control max-age={age} is above the set's cache_max_age ({max_age} s): caches may keep a retired key's set too long"
        ));
    }
    if !(cors.len() == 1 && cors[0].trim() == "*") {
        let got = if cors.is_empty() { "none".to_string() } else { cors.join(" | ") };
        w.push(format!("{url}: Access-Control-Allow-Origin is {got}, not *: browsers on other sites cannot read it"));
    }
    w
}

fn max_age_of(directive: &str) -> Option<i64> {
    let (name, value) = directive.trim().split_once('=')?;
    name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().ok())?
}

/// A transport error in a few words (never a panic, never a body).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("no answer within {} s", TIMEOUT.as_secs()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(parse_base("https://k.example.com/").unwrap(), "https://k.example.com");
        assert_eq!(parse_base("http://127.0.0.1:8000/a//").unwrap(), "http://127.0.0.1:8000/a");
        for bad in ["k.example.com", "ftp://x", "https://", "https://x/?a", "https://x y"] {
            assert!(matches!(parse_base(bad), Err(Error::Usage(_))), "{bad}");
        }
        assert_eq!(url_of("https://x", "a b/.well-known/jwks.json"), "https://x/a%20b/.well-known/jwks.json");
        assert_eq!(url_of("https://x", ""), "https://x/");
    }

    #[test]
    fn header_warnings_name_each_problem() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let good = header_warnings(
            "u",
            false,
            3600,
            &s(&["application/json; charset=utf-8"]),
            &s(&["public, max-age=3600"]),
            &s(&["*"]),
        );
        assert!(good.is_empty(), "{good:?}");
        let bad = header_warnings("u", true, 60, &s(&["application/octet-stream"]), &s(&["public, max-age=3600"]), &[]);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[0].contains("without an extension"));
        let twice = header_warnings("u", false, 60, &s(&["application/json", "application/json"]), &[], &s(&["*"]));
        assert_eq!(twice.len(), 1, "{twice:?}");
    }
}
