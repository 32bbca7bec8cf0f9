//! Fuzzing on stable: four proptest-driven targets for the readers of untrusted input.
//!
//! Targets: `fuzz_pem` (PEM keys), `fuzz_jwk` (JWKs), `fuzz_meta` (`<kid>.meta.json`) and
//! `fuzz_keyset` (`keyset.toml`), each driven by proptest's `TestRunner`.
//! Property of every target: arbitrary input never panics and always yields `Ok` or `Err`; read
//! from a file through the real reader (`selftest::read_set_tested` on a temporary `keys/`, and
//! `cmd::import::run` for PEM and JWK files), an error names the file. Inputs are arbitrary bytes
//! and structure-aware ones: mutations (bit flips, byte changes, insertions, deletions,
//! duplications, truncations) of valid inputs made at test time, with dictionaries of tokens
//! that matter to each format.
//!
//! `FUZZ_CASES=N` sets the cases per target (default 300: the CI short pass).
//! `JWKSMITH_FUZZ_SECS=N` runs batches of cases until N seconds have passed and prints
//! `target: N executions, M failures` (see docs/FUZZING.md):
//!
//! ```text
//! JWKSMITH_FUZZ_SECS=600 nice -n 19 cargo test --release --test fuzz fuzz_pem -- --nocapture
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use der::{Decode, Encode};
use jwksmith::cmd::import::{self, ImportOptions};
use jwksmith::cmd::{Context, build, check};
use jwksmith::config::{DEFAULT_KEYSET_TOML, KeySpec, KeysetConfig};
use jwksmith::jose::{Alg, Curve, Kty, Use};
use jwksmith::key::{KeyMaterial, b64u, parse_jwk, parse_pem, pem_lf};
use jwksmith::keydir::discover;
use jwksmith::model::KeySet;
use jwksmith::rotation::{Mode, decide};
use jwksmith::selftest::{SelfTested, read_set_tested};
use jwksmith::times::Timestamp;
use jwksmith::ui::{Ui, Verbosity};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Harness: budget, runner, panic capture
// ---------------------------------------------------------------------------------------------

/// Cases per target when `FUZZ_CASES` is not set: the CI short pass.
const DEFAULT_CASES: u32 = 300;
/// Cases per runner in a timed run (each batch starts from a fresh random seed).
const BATCH: u32 = 256;
/// `--now` of every command run here (the lifecycle times of the seeds are around it).
const NOW: &str = "2026-01-01T00:00:00Z";
/// The kid of the fuzzed key files.
const KID: &str = "fuzzed";

/// How long a target runs.
#[derive(Clone, Copy, Debug)]
enum Budget {
    /// This many cases (one runner).
    Cases(u32),
    /// Batches until this much time has passed.
    Time(Duration),
}

fn budget() -> Budget {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
    match env("JWKSMITH_FUZZ_SECS") {
        Some(secs) if secs > 0 => Budget::Time(Duration::from_secs(secs)),
        _ => Budget::Cases(env("FUZZ_CASES").map_or(DEFAULT_CASES, |n| u32::try_from(n).unwrap_or(u32::MAX))),
    }
}

/// What a target run found.
struct Report {
    executions: u64,
    failures: Vec<String>,
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // No regression files: failures are reported in the test output, and minimal inputs
        // become regression cases in this file.
        failure_persistence: None,
        max_shrink_iters: 20_000,
        max_shrink_time: 120_000,
        ..Config::default()
    })
}

/// Runs `property` on values of `strategy` within `budget`; each failure comes with its shrunk input.
fn explore<S>(
    target: &str,
    strategy: &S,
    property: &dyn Fn(&S::Value) -> Result<(), TestCaseError>,
    budget: Budget,
) -> Report
where
    S: Strategy,
    S::Value: fmt::Debug,
{
    install_panic_hook();
    let executions = Cell::new(0u64);
    let mut failures = Vec::new();
    let started = Instant::now();
    loop {
        let cases = match budget {
            Budget::Cases(n) => n,
            Budget::Time(_) => BATCH,
        };
        let result = runner(cases).run(strategy, |value| {
            executions.set(executions.get() + 1);
            property(&value)
        });
        let failure = match result {
            Ok(()) => None,
            Err(TestError::Fail(reason, value)) => Some(format!("{reason}\nminimal input: {value:?}")),
            Err(TestError::Abort(reason)) => Some(format!("runner aborted: {reason}")),
        };
        if let Some(failure) = failure {
            if matches!(budget, Budget::Time(_)) {
                eprintln!("{target}: failure #{}: {failure}", failures.len() + 1);
            }
            failures.push(failure);
        }
        match budget {
            Budget::Time(limit) if started.elapsed() < limit => continue,
            _ => break,
        }
    }
    Report { executions: executions.get(), failures }
}

/// One fuzz target: runs it within the budget, prints the counts, fails with every failure found.
fn fuzz<S>(target: &str, strategy: S, property: impl Fn(&S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: fmt::Debug,
{
    DEPTH.with(|d| d.borrow_mut().clear());
    let report = explore(target, &strategy, &property, budget());
    eprintln!("{target}: {} executions, {} failures", report.executions, report.failures.len());
    let depth = DEPTH.with(|d| d.take());
    let (errors, stages): (Vec<_>, Vec<_>) = depth.iter().partition(|(stage, _)| stage.starts_with(ERROR_PREFIX));
    let stages: Vec<String> = stages.iter().map(|(stage, n)| format!("{stage} {n}")).collect();
    eprintln!("{target}: cases that reached: {}", stages.join(", "));
    for (kind, n) in errors {
        eprintln!("{target}:   {n:6} {kind}");
    }
    assert!(
        report.failures.is_empty(),
        "{target}: {} failure(s), each with its shrunk input:\n\n{}",
        report.failures.len(),
        report.failures.join("\n\n")
    );
}

thread_local! {
    /// True while this thread runs reader code under [`guarded`].
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    /// The last panic of a guarded call: message and location.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// How many cases of this thread's target reached each stage (how deep the inputs go).
    static DEPTH: RefCell<BTreeMap<String, u64>> = const { RefCell::new(BTreeMap::new()) };
}

/// Counts a case that reached `stage` (printed after the target's counts).
fn reached(stage: &str) {
    DEPTH.with(|d| *d.borrow_mut().entry(stage.to_string()).or_default() += 1);
}

const ERROR_PREFIX: &str = "error of ";

/// With `JWKSMITH_FUZZ_ERRORS=1`, counts the kinds of error a stage returns (to tune the inputs).
fn error_kind<T, E: fmt::Display>(stage: &str, result: &Result<T, E>) {
    static ON: OnceLock<bool> = OnceLock::new();
    if !*ON.get_or_init(|| std::env::var_os("JWKSMITH_FUZZ_ERRORS").is_some()) {
        return;
    }
    if let Err(e) = result {
        let text = e.to_string();
        let text = text.rsplit(".json: ").next().unwrap_or(&text);
        let text = text.rsplit(".pem: ").next().unwrap_or(text);
        let text = text.rsplit(".toml: ").next().unwrap_or(text);
        let text = text.strip_prefix("invalid key metadata (").unwrap_or(text);
        // TOML: the line under the caret says what is wrong.
        let text = text.lines().skip_while(|l| !l.contains('^')).nth(1).unwrap_or(text);
        let text = text.split(" at line ").next().unwrap_or(text);
        let kind: String = text.split(['(', '`', '\n', ':']).next().unwrap_or_default().chars().take(60).collect();
        reached(&format!("{ERROR_PREFIX}{stage}: {kind}"));
    }
}

/// Guarded calls running now, on any thread.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Recent panics of unnamed threads (rayon workers of a guarded call): message and location.
static WORKER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs (once) a panic hook that records panics of guarded code (and of the unnamed worker
/// threads it uses) instead of printing them.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else if ACTIVE.load(Ordering::SeqCst) > 0 && std::thread::current().name().is_none() {
                let mut recent = WORKER_PANICS.lock().unwrap_or_else(|e| e.into_inner());
                if recent.len() >= 64 {
                    recent.remove(0);
                }
                recent.push(info.to_string());
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs reader code; a panic becomes a test-case failure naming the call, the panic message and
/// its location (proptest then shrinks the input and shows it).
fn guarded<T>(what: &str, run: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    install_panic_hook();
    GUARDED.with(|g| g.set(true));
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let result = panic::catch_unwind(AssertUnwindSafe(run));
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    GUARDED.with(|g| g.set(false));
    result.map_err(|payload| {
        let hooked = LAST_PANIC.with(|p| p.borrow_mut().take());
        let message = hooked.unwrap_or_else(|| {
            // A panic on a worker thread (rayon) reaches us as its payload; its location is in
            // what the hook recorded for that thread.
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string panic payload>".into());
            let mut recent = WORKER_PANICS.lock().unwrap_or_else(|e| e.into_inner());
            match recent.iter().rposition(|p| p.ends_with(&text)) {
                Some(i) => recent.remove(i),
                None => text,
            }
        });
        TestCaseError::fail(format!("PANIC in {what}: {message}"))
    })
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// A fuzz input: the bytes a reader gets, and how they were made. `Debug` prints the bytes as a
/// Rust byte-string literal, ready to paste into a regression case.
#[derive(Clone)]
struct Input {
    origin: String,
    bytes: Vec<u8>,
}

impl Input {
    fn new(origin: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Input { origin: origin.into(), bytes: bytes.into() }
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {} bytes] b\"{}\"", self.origin, self.bytes.len(), self.bytes.escape_ascii())
    }
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutations
// ---------------------------------------------------------------------------------------------

/// One edit of a byte string; positions are scaled to the current length.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
    Truncate(Index),
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::FlipBit(at, bit) if len > 0 => bytes[at.index(len)] ^= 1 << (bit % 8),
        Mutation::SetByte(at, value) if len > 0 => bytes[at.index(len)] = *value,
        Mutation::Insert(at, new) => {
            let i = at.index(len + 1);
            bytes.splice(i..i, new.iter().copied());
        }
        Mutation::Delete(at, n) if len > 0 => {
            let i = at.index(len);
            bytes.drain(i..(i + n).min(len));
        }
        Mutation::Duplicate(at, n) if len > 0 => {
            let i = at.index(len);
            let end = (i + n).min(len);
            let copy = bytes[i..end].to_vec();
            bytes.splice(end..end, copy);
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(len + 1)),
        _ => {}
    }
}

fn mutated(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        apply(&mut bytes, m);
    }
    bytes
}

/// Byte values that change the meaning of DER lengths and tags, PEM lines and base64.
const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x30, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xa0, 0xa1, 0xff, b'=', b'-', b'\n',
];

/// 1 to `max` mutations, mostly one or two (few edits keep inputs close to valid, so they get
/// past the first checks); insertions take random bytes, bytes of `alphabet`, or a token of `dict`.
fn mutations(dict: &'static [&'static [u8]], max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    mutations_in(dict, &[], max)
}

fn mutations_in(
    dict: &'static [&'static [u8]],
    alphabet: &'static [u8],
    max: usize,
) -> impl Strategy<Value = Vec<Mutation>> {
    let letters = if alphabet.is_empty() { INTERESTING_BYTES } else { alphabet };
    let insert = prop_oneof![
        1 => vec(any::<u8>(), 1..12),
        2 => vec(select(letters), 1..8),
        2 => select(dict).prop_map(<[u8]>::to_vec),
    ];
    let byte = prop_oneof![1 => any::<u8>(), 2 => select(INTERESTING_BYTES), 2 => select(letters)];
    let one = prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), byte).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        3 => (any::<Index>(), insert).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ];
    prop_oneof![4 => vec(one.clone(), 1..=1), 2 => vec(one.clone(), 2..=2), 1 => vec(one, 1..=max.max(1))]
}

/// The base64 alphabet (PEM bodies, JWK members).
const BASE64_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_";

// ---------------------------------------------------------------------------------------------
// DER-aware mutations: edit one node of the TLV tree and re-encode the lengths, so the result
// stays well-formed DER and reaches the checks of the values (sizes, exponents, points, OIDs).
// ---------------------------------------------------------------------------------------------

/// A DER node. OCTET STRING and BIT STRING values that hold DER themselves (PKCS#8's inner
/// key, SPKI's RSA key) are parsed as nodes too.
#[derive(Clone, Debug)]
enum Tlv {
    Leaf {
        tag: u8,
        content: Vec<u8>,
    },
    /// `prefix` is the unused-bits byte of a BIT STRING (empty otherwise).
    Node {
        tag: u8,
        prefix: Vec<u8>,
        children: Vec<Tlv>,
    },
}

fn parse_tlvs(mut bytes: &[u8]) -> Option<Vec<Tlv>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let tag = bytes[0];
        if tag & 0x1f == 0x1f {
            return None;
        }
        let first = *bytes.get(1)?;
        let (len, header) = match first {
            0..=0x7f => (usize::from(first), 2),
            0x81..=0x84 => {
                let n = usize::from(first & 0x7f);
                let len = bytes.get(2..2 + n)?.iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b));
                (len, 2 + n)
            }
            _ => return None,
        };
        let content = bytes.get(header..header.checked_add(len)?)?;
        bytes = &bytes[header + len..];
        let node = if tag & 0x20 != 0 {
            Tlv::Node { tag, prefix: Vec::new(), children: parse_tlvs(content)? }
        } else if tag == 0x04 && content.first() == Some(&0x30) {
            match parse_tlvs(content) {
                Some(children) => Tlv::Node { tag, prefix: Vec::new(), children },
                None => Tlv::Leaf { tag, content: content.to_vec() },
            }
        } else if tag == 0x03 && content.len() > 1 && content[0] == 0 && content[1] == 0x30 {
            match parse_tlvs(&content[1..]) {
                Some(children) => Tlv::Node { tag, prefix: vec![0], children },
                None => Tlv::Leaf { tag, content: content.to_vec() },
            }
        } else {
            Tlv::Leaf { tag, content: content.to_vec() }
        };
        out.push(node);
    }
    Some(out)
}

fn encode_tlv(node: &Tlv, out: &mut Vec<u8>) {
    let (tag, content) = match node {
        Tlv::Leaf { tag, content } => (*tag, content.clone()),
        Tlv::Node { tag, prefix, children } => {
            let mut content = prefix.clone();
            for child in children {
                encode_tlv(child, &mut content);
            }
            (*tag, content)
        }
    };
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend(content);
}

/// One edit of one DER node.
#[derive(Clone, Debug)]
enum DerEdit {
    /// Replace a primitive value's content.
    Content(Index, Vec<u8>),
    /// Flip one bit of a primitive value.
    FlipBit(Index, Index, u8),
    /// Keep a prefix of a primitive value.
    TruncateContent(Index, Index),
    /// Prepend zero bytes (non-minimal integers, over-long coordinates).
    ZeroPad(Index, usize),
    /// Remove a node.
    Remove(Index),
    /// Repeat a node.
    Duplicate(Index),
    /// Change a node's tag.
    Retag(Index, u8),
    /// Swap two sibling subtrees' contents (the i-th and j-th primitive values).
    SwapValues(Index, Index),
}

fn count_leaves(nodes: &[Tlv]) -> usize {
    nodes
        .iter()
        .map(|n| match n {
            Tlv::Leaf { .. } => 1,
            Tlv::Node { children, .. } => count_leaves(children),
        })
        .sum()
}

fn count_nodes(nodes: &[Tlv]) -> usize {
    nodes
        .iter()
        .map(|n| match n {
            Tlv::Leaf { .. } => 1,
            Tlv::Node { children, .. } => 1 + count_nodes(children),
        })
        .sum()
}

/// Applies `edit` to the content of the `k`-th primitive value (pre-order).
fn edit_leaf(nodes: &mut [Tlv], k: &mut usize, edit: &mut dyn FnMut(&mut Vec<u8>)) -> bool {
    for node in nodes {
        match node {
            Tlv::Leaf { content, .. } => {
                if *k == 0 {
                    edit(content);
                    return true;
                }
                *k -= 1;
            }
            Tlv::Node { children, .. } => {
                if edit_leaf(children, k, edit) {
                    return true;
                }
            }
        }
    }
    false
}

fn with_leaf(nodes: &mut [Tlv], index: &Index, mut edit: impl FnMut(&mut Vec<u8>)) {
    let total = count_leaves(nodes);
    if total > 0 {
        edit_leaf(nodes, &mut index.index(total), &mut edit);
    }
}

/// Applies `edit` to the list that holds the `k`-th node (pre-order) and that node's position.
fn with_node(nodes: &mut Vec<Tlv>, k: &mut usize, edit: &mut dyn FnMut(&mut Vec<Tlv>, usize)) -> bool {
    for i in 0..nodes.len() {
        if *k == 0 {
            edit(nodes, i);
            return true;
        }
        *k -= 1;
        if let Tlv::Node { children, .. } = &mut nodes[i]
            && with_node(children, k, edit)
        {
            return true;
        }
    }
    false
}

fn apply_der_edit(nodes: &mut Vec<Tlv>, edit: &DerEdit) {
    let total = count_nodes(nodes);
    match edit {
        DerEdit::Content(i, bytes) => with_leaf(nodes, i, |c| *c = bytes.clone()),
        DerEdit::FlipBit(i, at, bit) => with_leaf(nodes, i, |c| {
            if !c.is_empty() {
                let at = at.index(c.len());
                c[at] ^= 1 << (bit % 8);
            }
        }),
        DerEdit::TruncateContent(i, at) => with_leaf(nodes, i, |c| c.truncate(at.index(c.len() + 1))),
        DerEdit::ZeroPad(i, n) => with_leaf(nodes, i, |c| {
            c.splice(0..0, std::iter::repeat_n(0u8, *n));
        }),
        DerEdit::SwapValues(a, b) => {
            let mut first = Vec::new();
            with_leaf(nodes, a, |c| first = c.clone());
            let mut second = Vec::new();
            with_leaf(nodes, b, |c| second = std::mem::replace(c, first.clone()));
            with_leaf(nodes, a, |c| *c = second.clone());
        }
        DerEdit::Remove(i) if total > 0 => {
            with_node(nodes, &mut i.index(total), &mut |list, at| {
                list.remove(at);
            });
        }
        DerEdit::Duplicate(i) if total > 0 => {
            with_node(nodes, &mut i.index(total), &mut |list, at| {
                let copy = list[at].clone();
                list.insert(at, copy);
            });
        }
        DerEdit::Retag(i, new_tag) if total > 0 => {
            with_node(nodes, &mut i.index(total), &mut |list, at| match &mut list[at] {
                Tlv::Leaf { tag, .. } | Tlv::Node { tag, .. } => *tag = *new_tag,
            });
        }
        _ => {}
    }
}

/// `der` with the edits applied to its tree (or unchanged when it is not parseable DER).
fn der_edited(der: &[u8], edits: &[DerEdit]) -> Vec<u8> {
    let Some(mut nodes) = parse_tlvs(der) else { return der.to_vec() };
    for edit in edits {
        apply_der_edit(&mut nodes, edit);
    }
    let mut out = Vec::new();
    for node in &nodes {
        encode_tlv(node, &mut out);
    }
    out
}

const DER_VALUES: &[&[u8]] = &[
    &[],
    &[0x00],
    &[0x01],
    &[0x03],
    &[0x01, 0x00, 0x01],
    &[0x00, 0x01, 0x00, 0x01],
    &[0x80],
    &[0xff],
    &[0x02],
    &[0x04],
    &[0x01, 0x00, 0x00],
    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
    &[0x2b, 0x81, 0x04, 0x00, 0x0a],
    &[0x2b, 0x81, 0x04, 0x00, 0x22],
    &[0x2b, 0x81, 0x04, 0x00, 0x23],
    &[0x2b, 0x65, 0x70],
];

/// Values that matter to key checks: exponents, odd/even, points, empty, one byte, long.
fn der_value() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => select(DER_VALUES).prop_map(<[u8]>::to_vec),
        2 => vec(any::<u8>(), 0..80),
        1 => (any::<u8>(), 0usize..600).prop_map(|(b, n)| vec![b; n]),
        1 => vec(any::<u8>(), 250..300),
    ]
    .boxed()
}

fn der_edits() -> impl Strategy<Value = Vec<DerEdit>> {
    let tags =
        prop_oneof![select(&[0x02u8, 0x03, 0x04, 0x05, 0x06, 0x30, 0x31, 0xa0, 0xa1, 0x0c, 0x00][..]), any::<u8>()];
    let one = prop_oneof![
        3 => (any::<Index>(), der_value()).prop_map(|(i, v)| DerEdit::Content(i, v)),
        3 => (any::<Index>(), any::<Index>(), 0u8..8).prop_map(|(i, a, b)| DerEdit::FlipBit(i, a, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, a)| DerEdit::TruncateContent(i, a)),
        1 => (any::<Index>(), 1usize..4).prop_map(|(i, n)| DerEdit::ZeroPad(i, n)),
        1 => any::<Index>().prop_map(DerEdit::Remove),
        1 => any::<Index>().prop_map(DerEdit::Duplicate),
        1 => (any::<Index>(), tags).prop_map(|(i, t)| DerEdit::Retag(i, t)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| DerEdit::SwapValues(a, b)),
    ];
    prop_oneof![3 => vec(one.clone(), 1..=1), 1 => vec(one, 2..=4)]
}

/// Tokens of PEM text.
const PEM_TEXT_DICT: &[&[u8]] = &[
    b"-----",
    b"-----BEGIN ",
    b"-----END ",
    b"PRIVATE KEY-----",
    b"PUBLIC KEY-----",
    b"RSA ",
    b"EC ",
    b"\n",
    b"\r\n",
    b"\r",
    b"=",
    b"==",
    b" ",
    b"\t",
    b"A",
    b"/",
    b"+",
    b"_",
    b"Proc-Type: 4,ENCRYPTED\n",
    b"DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n",
    b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
    b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
    b"\xef\xbb\xbf",
    b"\x00",
    b"\xff",
    b"{",
];

/// DER fragments: long and indefinite lengths, empty values, OIDs of other algorithms and curves.
const DER_DICT: &[&[u8]] = &[
    &[0x00],
    &[0x80],
    &[0x81, 0x80],
    &[0x82, 0xff, 0xff],
    &[0x84, 0xff, 0xff, 0xff, 0xff],
    &[0x89, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x30, 0x00],
    &[0x30, 0x80, 0x00, 0x00],
    &[0x02, 0x00],
    &[0x02, 0x01, 0x00],
    &[0x02, 0x01, 0xff],
    &[0x02, 0x02, 0x00, 0x01],
    &[0x05, 0x00],
    &[0x06, 0x00],
    &[0x03, 0x00],
    &[0x03, 0x01, 0x07],
    &[0x04, 0x00],
    &[0xa0, 0x00],
    &[0xa1, 0x00],
    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
    &[0x06, 0x03, 0x2b, 0x65, 0x70],
    &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
    &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01],
];

/// Bytes that matter in TOML text.
const TOML_DICT: &[&[u8]] = &[
    b"\"", b"'", b"=", b"[", b"]", b"[[", b"\n", b"#", b",", b"{", b"}", b".", b"\\", b"\\u0000", b"\"\"\"", b" ",
    b"\r\n",
];

/// Tokens of JSON text.
const JSON_DICT: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"1e999",
    b"-0",
    b"\"keys\"",
    b"\"d\":",
    b" ",
    b"\n",
    b"=",
];

// ---------------------------------------------------------------------------------------------
// Files, readers and the "names the file" check
// ---------------------------------------------------------------------------------------------

fn now() -> Timestamp {
    Timestamp::parse(NOW).expect("NOW is RFC 3339")
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    fs::write(path, bytes).expect("write file");
}

/// Discovers and loads every set under `keys`, as `build` does.
fn load_all(keys: &Path) -> jwksmith::Result<Vec<KeySet>> {
    discover(keys)?.iter().map(|dir| read_set_tested(dir, &SelfTested::default()).map(|(set, _warnings)| set)).collect()
}

fn context(root: &Path, keys: &str, at: Timestamp) -> Context {
    let mut ctx = Context::new(root.join(keys), root.join("out"));
    ctx.templates = root.join("site-template");
    ctx.now = at;
    ctx.now_fixed = true;
    ctx.ui = Ui::new(Verbosity::Quiet);
    ctx
}

/// `jwksmith import FILE` into an empty key directory of its own.
fn import_file(root: &Path, file: &Path) -> jwksmith::Result<()> {
    import::run(&context(root, "import-keys", now()), &ImportOptions { file: file.to_path_buf(), ..Default::default() })
}

/// The reader `import` picks for a file (same rule as `cmd::import`).
fn import_reads_json(file: &Path, bytes: &[u8]) -> bool {
    file.to_string_lossy().ends_with(".json") || bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The command-level property: when the parser rejects the input, the command fails and its
/// message names `file`; any other failure names a file under `root`.
fn expect_named<T>(
    what: &str,
    result: &jwksmith::Result<T>,
    parser_failed: bool,
    file: &Path,
    root: &Path,
) -> Result<(), TestCaseError> {
    match result {
        Ok(_) if parser_failed => Err(fail(format!("{what} accepted a file its parser rejects ({})", file.display()))),
        Ok(_) => Ok(()),
        Err(e) => {
            let message = e.to_string();
            let wanted = if parser_failed { file } else { root };
            if message.contains(&wanted.display().to_string()) {
                Ok(())
            } else {
                Err(fail(format!("{what}: the error does not name {}:\n{message}", wanted.display())))
            }
        }
    }
}

/// What the product computes from every key it reads: encodings, fingerprints, JWK members.
fn derive_everything(material: &KeyMaterial) -> usize {
    let public = &material.public;
    let mut n = public.thumbprint().len() + public.spki_sha256().len() + public.spki_pem().len();
    n += public.members().len() + public.describe().len();
    if let Some(secret) = &material.secret {
        n += secret.members().len();
    }
    n + material.pkcs8_pem().map_or(0, |p| p.len())
}

/// After a set loads: the pure rotation decisions, `build`, then `check` (must not panic).
fn downstream(root: &Path, sets: &[KeySet], at: Timestamp) -> Result<(), TestCaseError> {
    guarded("rotation::decide", || {
        for set in sets {
            let specs: Vec<&KeySpec> = set.config.keys.iter().collect();
            for mode in [Mode::Always, Mode::IfDue, Mode::Immediate] {
                decide(set, &specs, at, mode);
            }
        }
    })?;
    let ctx = context(root, "keys", at);
    let built = guarded("cmd::build::run", || build::run(&ctx, false))?;
    error_kind("build", &built);
    if built.is_ok() {
        reached("build ok");
        if guarded("cmd::check::run", || check::run(&ctx, false, None))?.is_ok() {
            reached("check ok");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Valid inputs made at test time
// ---------------------------------------------------------------------------------------------

struct Keys {
    rsa: KeyMaterial,
    ec: Vec<(Curve, KeyMaterial)>,
}

fn seed_keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let make = |kty, size, crv, alg| {
            let spec = KeySpec { spec: "seed".into(), kty, size, crv, key_use: Use::Sig, alg };
            jwksmith::generate::generate(&spec).expect("generate a seed key").material
        };
        Keys {
            rsa: make(Kty::Rsa, Some(2048), None, Alg::Rs256),
            ec: Curve::ALL.into_iter().map(|c| (c, make(Kty::Ec, None, Some(c), c.signing_alg()))).collect(),
        }
    })
}

/// A valid PEM file: its DER and tag (for DER mutations), its text, and an alg that fits it.
struct PemSeed {
    name: String,
    tag: &'static str,
    der: Vec<u8>,
    text: Vec<u8>,
    alg: &'static str,
}

fn pem_seed(name: &str, tag: &'static str, der: Vec<u8>, alg: &'static str) -> PemSeed {
    let text = pem_lf(tag, der.clone()).into_bytes();
    PemSeed { name: name.into(), tag, der, text, alg }
}

/// The private key inside a PKCS#8 `PrivateKeyInfo` (PKCS#1 or SEC1 DER).
fn pkcs8_inner(der: &[u8]) -> Vec<u8> {
    pkcs8::PrivateKeyInfoRef::from_der(der).expect("PKCS#8").private_key.as_bytes().to_vec()
}

/// The same DER with the rsaEncryption OID replaced by RSASSA-PSS (same length).
fn with_pss_oid(der: &[u8]) -> Vec<u8> {
    const RSA: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let mut out = der.to_vec();
    let at = out.windows(RSA.len()).position(|w| w == RSA).expect("rsaEncryption OID");
    out[at + RSA.len() - 1] = 0x0a;
    out
}

/// Every PEM form jwksmith reads, for RSA-2048 and EC P-256/384/521, plus variants.
fn pem_seeds() -> &'static [PemSeed] {
    static SEEDS: OnceLock<Vec<PemSeed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let k = seed_keys();
        let mut seeds = Vec::new();
        let pkcs8 = k.rsa.pkcs8_der().expect("RSA PKCS#8");
        let spki = k.rsa.public.spki_der();
        let pkcs1_public =
            spki::SubjectPublicKeyInfoRef::from_der(&spki).expect("SPKI").subject_public_key.raw_bytes().to_vec();
        seeds.push(pem_seed("RSA PKCS#8", "PRIVATE KEY", pkcs8.clone(), "RS256"));
        seeds.push(pem_seed("RSA-PSS PKCS#8", "PRIVATE KEY", with_pss_oid(&pkcs8), "PS256"));
        seeds.push(pem_seed("RSA PKCS#1", "RSA PRIVATE KEY", pkcs8_inner(&pkcs8), "RS256"));
        seeds.push(pem_seed("RSA SPKI", "PUBLIC KEY", spki.clone(), "RS256"));
        seeds.push(pem_seed("RSA-PSS SPKI", "PUBLIC KEY", with_pss_oid(&spki), "PS256"));
        seeds.push(pem_seed("RSA PKCS#1 public", "RSA PUBLIC KEY", pkcs1_public, "RS256"));
        for (crv, material) in &k.ec {
            let alg = crv.signing_alg().name();
            let pkcs8 = material.pkcs8_der().expect("EC PKCS#8");
            let inner = pkcs8_inner(&pkcs8);
            let sec1_key = sec1::EcPrivateKey::from_der(&inner).expect("SEC1");
            let with_params = |public_key| {
                sec1::EcPrivateKey {
                    private_key: sec1_key.private_key,
                    parameters: Some(sec1::EcParameters::NamedCurve(crv.oid())),
                    public_key,
                }
                .to_der()
                .expect("SEC1 encodes")
            };
            let sec1_full = with_params(sec1_key.public_key);
            let name = crv.name();
            seeds.push(pem_seed(&format!("{name} PKCS#8"), "PRIVATE KEY", pkcs8.clone(), alg));
            seeds.push(pem_seed(&format!("{name} SEC1"), "EC PRIVATE KEY", sec1_full.clone(), alg));
            seeds.push(pem_seed(&format!("{name} SEC1 without public key"), "EC PRIVATE KEY", with_params(None), alg));
            seeds.push(pem_seed(&format!("{name} SPKI"), "PUBLIC KEY", material.public.spki_der(), alg));
            // openssl ecparam -genkey: an EC PARAMETERS block before the key.
            let mut composite = pem_seed(&format!("{name} SEC1 after EC PARAMETERS"), "EC PRIVATE KEY", sec1_full, alg);
            let params = pem_lf("EC PARAMETERS", crv.oid().to_der().expect("OID encodes"));
            composite.text = [params.into_bytes(), composite.text].concat();
            seeds.push(composite);
        }
        // CRLF line ends.
        let crlf = String::from_utf8(seeds[0].text.clone()).expect("PEM text").replace('\n', "\r\n");
        let mut rsa_crlf = pem_seed("RSA PKCS#8 CRLF", "PRIVATE KEY", pkcs8, "RS256");
        rsa_crlf.text = crlf.into_bytes();
        seeds.push(rsa_crlf);
        seeds
    })
}

fn jwk_object(material: &KeyMaterial, private: bool, hints: &[(&str, &str)]) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("kty".into(), material.public.kty().name().into());
    for (name, value) in material.public.members() {
        obj.insert(name.into(), value.into());
    }
    if private && let Some(secret) = &material.secret {
        for (name, value) in secret.members() {
            obj.insert(name.into(), value.into());
        }
    }
    for (name, value) in hints {
        obj.insert((*name).into(), (*value).into());
    }
    obj
}

/// Valid JWKs: RSA and EC (each curve), private and public, some with kid/use/alg.
fn jwk_seeds() -> &'static [(String, Map<String, Value>)] {
    static SEEDS: OnceLock<Vec<(String, Map<String, Value>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let k = seed_keys();
        let mut seeds = vec![
            ("RSA private".to_string(), jwk_object(&k.rsa, true, &[])),
            ("RSA public".to_string(), jwk_object(&k.rsa, false, &[("kid", "r1"), ("use", "sig"), ("alg", "RS256")])),
            ("RSA private enc".to_string(), jwk_object(&k.rsa, true, &[("use", "enc"), ("alg", "RSA-OAEP-256")])),
        ];
        for (crv, material) in &k.ec {
            let alg = crv.signing_alg().name();
            seeds.push((format!("{} private", crv.name()), jwk_object(material, true, &[("alg", alg)])));
            seeds.push((
                format!("{} public", crv.name()),
                jwk_object(material, false, &[("kid", "e1"), ("use", "sig")]),
            ));
        }
        seeds
    })
}

/// A valid `<kid>.meta.json` member by member.
fn valid_meta(kid: &str, alg: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "kid": kid, "id": "6f1c1f5e-1d7c-4d8e-9a55-000000000001", "label": kid, "spec": null,
        "use": "sig", "alg": alg, "created": "2025-12-01T00:00:00Z", "activates": "2025-12-01T00:00:00Z",
        "retires": null, "expires": null, "revoked": null
    }))
    .expect("JSON")
}

// ---------------------------------------------------------------------------------------------
// Value strategies shared by the JSON and TOML targets
// ---------------------------------------------------------------------------------------------

const ALG_NAMES: &[&str] = &[
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "ES256",
    "ES384",
    "ES512",
    "ECDH-ES",
    "HS256",
    "EdDSA",
    "none",
    "",
];

const WORDS: &[&str] = &[
    "RSA",
    "EC",
    "oct",
    "OKP",
    "P-256",
    "P-384",
    "P-521",
    "secp256k1",
    "sig",
    "enc",
    "RS256",
    "ES256",
    "ECDH-ES",
    "AQAB",
    "AAEAAQ",
    "Aw",
    "AQ",
    "AA",
    "",
    "=",
    "==",
    "A",
    "_-_-",
    "rsa-sig",
    "fuzzed",
];

fn b64_value(bytes: &[u8]) -> Value {
    Value::from(b64u(bytes))
}

/// JSON scalars: words of the formats, base64url of random or degenerate bytes, strings, numbers.
fn json_scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => select(WORDS).prop_map(Value::from),
        2 => vec(any::<u8>(), 0..80).prop_map(|b| b64_value(&b)),
        1 => vec(any::<u8>(), 250..300).prop_map(|b| b64_value(&b)),
        1 => (any::<u8>(), 0usize..600).prop_map(|(byte, n)| b64_value(&vec![byte; n])),
        2 => ".{0,24}".prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
    .boxed()
}

/// Any JSON value, nested a little.
fn json_value() -> BoxedStrategy<Value> {
    json_scalar()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                vec((prop_oneof![select(JWK_MEMBERS).prop_map(str::to_string), "[a-z]{0,4}"], inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Target 1: PEM (key::parse_pem; selftest::read_set_tested on keys/<name>.pem; cmd::import::run)
// ---------------------------------------------------------------------------------------------

const PEM_TAGS: &[&str] = &[
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "ENCRYPTED PRIVATE KEY",
    "CERTIFICATE",
    "EC PARAMETERS",
    "OPENSSH PRIVATE KEY",
];

/// Where the fuzzed PEM goes in the set.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `keys/fuzzed.pem`: a hand-dropped key.
    HandDropped,
    /// `keys/fuzzed.key.pem` beside a valid `fuzzed.meta.json`.
    Private,
    /// `keys/fuzzed.pub.pem` beside a valid `fuzzed.meta.json`.
    Public,
}

#[derive(Clone, Debug)]
struct PemCase {
    layout: Layout,
    /// alg of the metadata written beside a managed file (fits the seed key).
    alg: &'static str,
    input: Input,
}

fn pem_inputs() -> impl Strategy<Value = PemCase> {
    let seeds = pem_seeds();
    let n = seeds.len();
    let input = prop_oneof![
        1 => vec(any::<u8>(), 0..1500).prop_map(|b| ("ES256", Input::new("arbitrary bytes", b))),
        1 => (select(PEM_TAGS), vec(any::<u8>(), 0..700)).prop_map(|(tag, der)| {
            ("ES256", Input::new(format!("random DER as {tag}"), pem_lf(tag, der)))
        }),
        4 => (0..n, mutations_in(PEM_TEXT_DICT, BASE64_ALPHABET, 6)).prop_map(move |(i, m)| {
            let seed = &pem_seeds()[i];
            (seed.alg, Input::new(format!("{} PEM text, {} mutations", seed.name, m.len()), mutated(&seed.text, &m)))
        }),
        5 => (0..n, der_edits(), prop::option::weighted(0.1, select(PEM_TAGS))).prop_map(move |(i, e, retag)| {
            let seed = &pem_seeds()[i];
            let tag = retag.unwrap_or(seed.tag);
            let origin = format!("{} DER, {} node edits, as {tag}", seed.name, e.len());
            (seed.alg, Input::new(origin, pem_lf(tag, der_edited(&seed.der, &e))))
        }),
        3 => (0..n, mutations(DER_DICT, 6), prop::option::weighted(0.1, select(PEM_TAGS))).prop_map(
            move |(i, m, retag)| {
                let seed = &pem_seeds()[i];
                let tag = retag.unwrap_or(seed.tag);
                let origin = format!("{} DER, {} mutations, as {tag}", seed.name, m.len());
                (seed.alg, Input::new(origin, pem_lf(tag, mutated(&seed.der, &m))))
            }
        ),
    ];
    let layout = prop_oneof![3 => Just(Layout::HandDropped), 1 => Just(Layout::Private), 1 => Just(Layout::Public)];
    (input, layout).prop_map(|((alg, input), layout)| PemCase { layout, alg, input })
}

fn check_pem(case: &PemCase) -> Result<(), TestCaseError> {
    let bytes = &case.input.bytes;
    let parsed = guarded("key::parse_pem", || parse_pem(bytes))?;
    error_kind("parse_pem", &parsed);
    if let Ok(material) = &parsed {
        reached(if material.secret.is_some() { "parse_pem ok (private)" } else { "parse_pem ok (public)" });
        guarded("encodings of the parsed key", || derive_everything(material))?;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let keys = root.join("keys");
    let file = keys.join(match case.layout {
        Layout::HandDropped => format!("{KID}.pem"),
        Layout::Private => format!("{KID}.key.pem"),
        Layout::Public => format!("{KID}.pub.pem"),
    });
    write(&file, bytes);
    if !matches!(case.layout, Layout::HandDropped) {
        write(&keys.join(format!("{KID}.meta.json")), &valid_meta(KID, case.alg));
    }
    let loaded = guarded("selftest::read_set_tested", || load_all(&keys))?;
    error_kind("read_set_tested", &loaded);
    if loaded.is_ok() {
        reached("read_set_tested ok");
    }
    expect_named("selftest::read_set_tested", &loaded, parsed.is_err(), &file, root)?;

    let source = root.join("in").join(format!("{KID}.pem"));
    write(&source, bytes);
    let reader_failed = if import_reads_json(&source, bytes) {
        guarded("key::parse_jwk", || parse_jwk(bytes))?.is_err()
    } else {
        parsed.is_err()
    };
    let imported = guarded("cmd::import::run", || import_file(root, &source))?;
    error_kind("import", &imported);
    expect_named("cmd::import::run", &imported, reader_failed, &source, root)?;
    if imported.is_ok() && !import_reads_json(&source, bytes) {
        reached("import ok");
        check_imported(root, parsed.as_ref().is_ok_and(|m| m.secret.is_some()))?;
    }
    Ok(())
}

#[test]
fn fuzz_pem() {
    fuzz("fuzz_pem", pem_inputs(), check_pem);
}

// ---------------------------------------------------------------------------------------------
// Target 2: JWK (key::parse_jwk; cmd::import::run on FILE.jwk.json)
// ---------------------------------------------------------------------------------------------

const JWK_MEMBERS: &[&str] = &[
    "kty", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "oth", "k", "kid", "use", "alg", "x5c", "keys",
];

/// One edit of a JWK object.
#[derive(Clone, Debug)]
enum JwkEdit {
    /// Remove the i-th member present.
    Remove(Index),
    /// Set a member to a value.
    Set(&'static str, Value),
    /// Mutate the text of the i-th member's string value.
    MutateText(Index, Vec<Mutation>),
    /// Copy the i-th member of another seed (mismatched key parts).
    Transplant(Index, Index),
}

fn jwk_edit() -> impl Strategy<Value = JwkEdit> {
    prop_oneof![
        2 => any::<Index>().prop_map(JwkEdit::Remove),
        3 => (select(JWK_MEMBERS), json_value()).prop_map(|(m, v)| JwkEdit::Set(m, v)),
        3 => (any::<Index>(), mutations(JSON_DICT, 3)).prop_map(|(i, m)| JwkEdit::MutateText(i, m)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(s, m)| JwkEdit::Transplant(s, m)),
    ]
}

fn edit_jwk(obj: &mut Map<String, Value>, edit: &JwkEdit) {
    let nth = |obj: &Map<String, Value>, i: &Index| {
        (!obj.is_empty()).then(|| obj.keys().nth(i.index(obj.len())).cloned()).flatten()
    };
    match edit {
        JwkEdit::Remove(i) => {
            if let Some(name) = nth(obj, i) {
                obj.remove(&name);
            }
        }
        JwkEdit::Set(name, value) => {
            obj.insert((*name).into(), value.clone());
        }
        JwkEdit::MutateText(i, m) => {
            if let Some(name) = nth(obj, i)
                && let Some(Value::String(text)) = obj.get_mut(&name)
            {
                *text = String::from_utf8_lossy(&mutated(text.as_bytes(), m)).into_owned();
            }
        }
        JwkEdit::Transplant(seed, i) => {
            let seeds = jwk_seeds();
            let (_, other) = &seeds[seed.index(seeds.len())];
            if let Some(name) = nth(other, i) {
                obj.insert(name.clone(), other[&name].clone());
            }
        }
    }
}

/// How the JWK is wrapped.
#[derive(Clone, Copy, Debug)]
enum Wrap {
    Plain,
    SetOfOne,
    SetOfTwo,
    KeysNotAnArray,
}

fn jwk_inputs() -> impl Strategy<Value = Input> {
    let n = jwk_seeds().len();
    let wrap = prop_oneof![
        6 => Just(Wrap::Plain),
        2 => Just(Wrap::SetOfOne),
        1 => Just(Wrap::SetOfTwo),
        1 => Just(Wrap::KeysNotAnArray),
    ];
    let structured = (
        0..n,
        prop_oneof![3 => vec(jwk_edit(), 0..=1), 1 => vec(jwk_edit(), 2..6)],
        wrap,
        any::<bool>(),
        text_mutations(),
    )
        .prop_map(|(i, edits, wrap, pretty, text)| {
            let (name, seed) = &jwk_seeds()[i];
            let mut obj = seed.clone();
            for edit in &edits {
                edit_jwk(&mut obj, edit);
            }
            let jwk = Value::Object(obj);
            let value = match wrap {
                Wrap::Plain => jwk,
                Wrap::SetOfOne => serde_json::json!({ "keys": [jwk] }),
                Wrap::SetOfTwo => serde_json::json!({ "keys": [jwk.clone(), jwk] }),
                Wrap::KeysNotAnArray => serde_json::json!({ "keys": jwk }),
            };
            let json = if pretty { serde_json::to_vec_pretty(&value) } else { serde_json::to_vec(&value) };
            let json = json.expect("JSON");
            let bytes = text.as_ref().map_or_else(|| json.clone(), |m| mutated(&json, m));
            let texts = text.map_or(0, |m| m.len());
            Input::new(format!("{name} JWK, {} edits, {wrap:?}, {texts} text mutations", edits.len()), bytes)
        });
    prop_oneof![
        1 => vec(any::<u8>(), 0..600).prop_map(|b| Input::new("arbitrary bytes", b)),
        1 => json_value().prop_map(|v| Input::new("arbitrary JSON", serde_json::to_vec(&v).expect("JSON"))),
        6 => structured,
    ]
}

fn check_jwk(input: &Input) -> Result<(), TestCaseError> {
    let bytes = &input.bytes;
    let parsed = guarded("key::parse_jwk", || parse_jwk(bytes))?;
    error_kind("parse_jwk", &parsed);
    if let Ok((material, _hints)) = &parsed {
        reached(if material.secret.is_some() { "parse_jwk ok (private)" } else { "parse_jwk ok (public)" });
        guarded("encodings of the parsed key", || derive_everything(material))?;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let source = root.join("in").join(format!("{KID}.jwk.json"));
    write(&source, bytes);
    let imported = guarded("cmd::import::run", || import_file(root, &source))?;
    error_kind("import", &imported);
    expect_named("cmd::import::run", &imported, parsed.is_err(), &source, root)?;
    if imported.is_ok() {
        reached("import ok");
        let private = parsed.as_ref().is_ok_and(|(m, _)| m.secret.is_some());
        check_imported(root, private)?;
    }
    Ok(())
}

/// After a successful import: the split files are there (the private one when the input had a
/// private part) and the set loads.
fn check_imported(root: &Path, private: bool) -> Result<(), TestCaseError> {
    let dir = root.join("import-keys");
    // The kid is the JWK's own `kid` when it has one, else the file's (SPEC §4 import).
    let kid = fs::read_dir(&dir)
        .ok()
        .and_then(|d| d.flatten().find_map(|e| e.file_name().to_str()?.strip_suffix(".meta.json").map(str::to_string)))
        .unwrap_or_else(|| KID.to_string());
    let has = |suffix: &str| dir.join(format!("{kid}{suffix}")).is_file();
    if !has(".pub.pem") || !has(".meta.json") || has(".key.pem") != private {
        let listing: Vec<String> = fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        return Err(fail(format!("import wrote {listing:?} for a key with private part: {private}")));
    }
    let loaded = guarded("selftest::read_set_tested of the imported key", || load_all(&dir))?;
    match loaded {
        Ok(_) => Ok(()),
        Err(e) => Err(fail(format!("the key that import wrote does not load: {e}"))),
    }
}

#[test]
fn fuzz_jwk() {
    fuzz("fuzz_jwk", jwk_inputs(), check_jwk);
}

// ---------------------------------------------------------------------------------------------
// Target 3: meta.json (meta::parse; selftest::read_set_tested on keys/<kid>.meta.json + a valid key)
// ---------------------------------------------------------------------------------------------

/// The valid key files beside the fuzzed metadata.
#[derive(Clone, Copy, Debug)]
enum MetaKey {
    /// `fuzzed.pub.pem`, EC P-256.
    Ec256Public,
    /// `fuzzed.pub.pem`, RSA-2048.
    RsaPublic,
    /// `fuzzed.pub.pem`, EC P-521.
    Ec521Public,
    /// `fuzzed.key.pem` + `fuzzed.pub.pem`, EC P-256 (the self-test runs).
    Ec256Pair,
}

impl MetaKey {
    fn material(self) -> &'static KeyMaterial {
        let k = seed_keys();
        match self {
            MetaKey::Ec256Public | MetaKey::Ec256Pair => &k.ec[0].1,
            MetaKey::RsaPublic => &k.rsa,
            MetaKey::Ec521Public => &k.ec[2].1,
        }
    }
}

#[derive(Clone, Debug)]
struct MetaCase {
    key: MetaKey,
    /// `--now` of the commands run after a successful load (Unix seconds).
    now: i64,
    input: Input,
}

/// Unix seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range RFC 3339 can write.
const MIN_UNIX: i64 = -62_167_219_200;
const MAX_UNIX: i64 = 253_402_300_799;
const NOW_UNIX: i64 = 1_767_225_600;

/// RFC 3339-like times: mostly valid, with out-of-range fields, odd separators and offsets.
fn wild_time() -> impl Strategy<Value = String> {
    let offset = prop_oneof![
        Just("Z".to_string()),
        Just("z".to_string()),
        (any::<bool>(), 0u8..=24, 0u8..=60)
            .prop_map(|(neg, h, m)| format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' })),
    ];
    let fields = (0i32..=9999, 0u8..=13, 0u8..=32, 0u8..=24, 0u8..=60, 0u8..=61);
    (fields, prop::option::of("[0-9]{1,12}"), offset, select(&["T", "t", " "][..])).prop_map(
        |((y, mo, d, h, mi, s), frac, off, sep)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{off}")
        },
    )
}

/// A time near `NOW` written in canonical form.
fn near_time() -> impl Strategy<Value = String> {
    (-400i64 * 86_400..400 * 86_400).prop_map(|d| Timestamp::from_unix(NOW_UNIX + d).to_string())
}

fn time_value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => near_time().prop_map(Value::from),
        2 => wild_time().prop_map(Value::from),
        1 => (MIN_UNIX..=MAX_UNIX).prop_map(|t| Value::from(Timestamp::from_unix(t).to_string())),
        2 => Just(Value::Null),
        1 => json_scalar(),
    ]
    .boxed()
}

/// Times in lifecycle order (created ≤ activates ≤ retires ≤ expires), some null, so that
/// loads succeed and the commands after them run.
fn ordered_times() -> impl Strategy<Value = [Value; 5]> {
    let gap = 0i64..200 * 86_400;
    (
        -300i64 * 86_400..300 * 86_400,
        [gap.clone(), gap.clone(), gap],
        any::<[bool; 4]>(),
        prop::option::of(gap_revoked()),
    )
        .prop_map(|(start, gaps, null, revoked)| {
            let mut t = NOW_UNIX + start;
            let mut out: [Value; 5] = Default::default();
            for (i, slot) in out.iter_mut().take(4).enumerate() {
                if i > 0 {
                    t += gaps[i - 1];
                }
                if !null[i] {
                    *slot = Value::from(Timestamp::from_unix(t).to_string());
                }
            }
            if let Some(r) = revoked {
                out[4] = Value::from(Timestamp::from_unix(NOW_UNIX + r).to_string());
            }
            out
        })
}

fn gap_revoked() -> impl Strategy<Value = i64> {
    -300i64 * 86_400..300 * 86_400
}

fn uuid_value() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => any::<u128>().prop_map(|u| Value::from(uuid::Uuid::from_u128(u).to_string())),
        1 => any::<u128>().prop_map(|u| Value::from(uuid::Uuid::from_u128(u).simple().to_string())),
        1 => any::<u128>().prop_map(|u| Value::from(uuid::Uuid::from_u128(u).urn().to_string())),
        1 => any::<u128>().prop_map(|u| Value::from(format!("{{{}}}", uuid::Uuid::from_u128(u)))),
        1 => json_scalar(),
    ]
    .boxed()
}

const META_FIELDS: [&str; 11] =
    ["kid", "id", "label", "spec", "use", "alg", "created", "activates", "retires", "expires", "revoked"];

/// The `alg` member: the one that fits the key and use, a named one, or any JSON value.
#[derive(Clone, Debug)]
enum AlgChoice {
    Fits,
    Named(&'static str),
    Wild(Value),
}

fn meta_inputs() -> impl Strategy<Value = MetaCase> {
    let required = |s: BoxedStrategy<Value>| prop::option::weighted(0.97, s);
    let optional = |s: BoxedStrategy<Value>| prop::option::weighted(0.85, s);
    let kid = prop_oneof![15 => Just(Value::from(KID)), 1 => json_scalar()].boxed();
    let label = prop_oneof![4 => ".{0,30}".prop_map(Value::from), 1 => Just(Value::Null), 1 => json_scalar()].boxed();
    let spec = prop_oneof![
        4 => select(&["rsa-sig", "ec256-sig", "ec521-sig", "gone", ""][..]).prop_map(Value::from),
        2 => Just(Value::Null),
        1 => json_scalar(),
    ]
    .boxed();
    let key_use =
        prop_oneof![10 => Just(Value::from("sig")), 3 => Just(Value::from("enc")), 1 => json_scalar()].boxed();
    let alg = prop_oneof![
        10 => Just(AlgChoice::Fits),
        3 => select(ALG_NAMES).prop_map(AlgChoice::Named),
        1 => json_scalar().prop_map(AlgChoice::Wild),
    ];
    let times = prop_oneof![
        3 => ordered_times().prop_map(|t| t.map(Some)),
        1 => proptest::array::uniform5(prop::option::weighted(0.8, time_value())),
    ];
    let extra = prop::option::weighted(0.05, ("[a-z_]{1,8}", json_scalar()));
    let key = prop_oneof![
        3 => Just(MetaKey::Ec256Public),
        2 => Just(MetaKey::RsaPublic),
        1 => Just(MetaKey::Ec521Public),
        2 => Just(MetaKey::Ec256Pair),
    ];
    let fields = (required(kid), required(uuid_value()), optional(label), optional(spec), required(key_use));
    let structured =
        (key.clone(), fields, prop::option::weighted(0.97, alg), times, extra, any::<bool>(), text_mutations())
            .prop_map(|(key, (kid, id, label, spec, key_use), alg, times, extra, pretty, text)| {
                let alg = alg.map(|choice| match choice {
                    AlgChoice::Fits => {
                        let public = &key.material().public;
                        let key_use = if key_use == Some(Value::from("enc")) { Use::Enc } else { Use::Sig };
                        Value::from(jwksmith::jose::default_alg(public.kty(), public.curve(), key_use).name())
                    }
                    AlgChoice::Named(name) => Value::from(name),
                    AlgChoice::Wild(value) => value,
                });
                let mut obj = Map::new();
                let values = [kid, id, label, spec, key_use, alg].into_iter().chain(times);
                for (name, value) in META_FIELDS.iter().zip(values) {
                    if let Some(value) = value {
                        obj.insert((*name).into(), value);
                    }
                }
                if let Some((name, value)) = extra {
                    obj.insert(name, value);
                }
                let value = Value::Object(obj);
                let json = if pretty { serde_json::to_vec_pretty(&value) } else { serde_json::to_vec(&value) };
                let json = json.expect("JSON");
                let texts = text.as_ref().map_or(0, Vec::len);
                let bytes = text.map_or_else(|| json.clone(), |m| mutated(&json, &m));
                (key, Input::new(format!("meta.json, {texts} text mutations"), bytes))
            });
    let input = prop_oneof![
        1 => (key.clone(), vec(any::<u8>(), 0..400)).prop_map(|(k, b)| (k, Input::new("arbitrary bytes", b))),
        1 => (key, json_value())
            .prop_map(|(k, v)| (k, Input::new("arbitrary JSON", serde_json::to_vec(&v).expect("JSON")))),
        12 => structured,
    ];
    let now = prop_oneof![
        3 => Just(NOW_UNIX),
        3 => NOW_UNIX - 800 * 86_400..NOW_UNIX + 800 * 86_400,
        1 => MIN_UNIX..=MAX_UNIX,
    ];
    (now, input).prop_map(|(now, (key, input))| MetaCase { key, now, input })
}

/// Occasional byte-level edits of JSON text.
fn text_mutations() -> impl Strategy<Value = Option<Vec<Mutation>>> {
    prop::option::weighted(0.12, mutations(JSON_DICT, 3))
}

fn check_meta(case: &MetaCase) -> Result<(), TestCaseError> {
    let bytes = &case.input.bytes;
    let parsed = guarded("meta::parse", || jwksmith::meta::parse(bytes))?;
    error_kind("meta::parse", &parsed);
    if let Ok(meta) = &parsed {
        reached("meta::parse ok");
        guarded("meta: label, times, to_json", || {
            (meta.label().len(), meta.times().check_order().is_ok(), meta.to_json(true), meta.to_json(false))
        })?;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let keys = root.join("keys");
    let material = case.key.material();
    write(&keys.join(format!("{KID}.pub.pem")), material.public.spki_pem().as_bytes());
    if matches!(case.key, MetaKey::Ec256Pair) {
        write(&keys.join(format!("{KID}.key.pem")), material.pkcs8_pem().expect("PKCS#8").as_bytes());
    }
    let file = keys.join(format!("{KID}.meta.json"));
    write(&file, bytes);
    let loaded = guarded("selftest::read_set_tested", || load_all(&keys))?;
    error_kind("read_set_tested", &loaded);
    match &loaded {
        // The key files are valid: every load error is about the metadata and names it.
        Err(_) => expect_named("selftest::read_set_tested", &loaded, true, &file, root),
        Ok(_) if parsed.is_err() => {
            Err(fail("selftest::read_set_tested accepted metadata that meta::parse rejects".into()))
        }
        Ok(sets) => {
            reached("read_set_tested ok");
            downstream(root, sets, Timestamp::from_unix(case.now))
        }
    }
}

#[test]
fn fuzz_meta() {
    fuzz("fuzz_meta", meta_inputs(), check_meta);
}

// ---------------------------------------------------------------------------------------------
// Target 4: keyset.toml (KeysetConfig::parse; selftest::read_set_tested on keys/keyset.toml)
// ---------------------------------------------------------------------------------------------

/// Tokens of TOML and of keyset.toml's vocabulary.
const TOML_TOKENS: &[&str] = &[
    "=",
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "[[key]]",
    "[rotation]",
    "[key]",
    "[rotation.x]",
    "\n",
    " ",
    "#",
    ",",
    "{",
    "}",
    ".",
    "true",
    "false",
    "0",
    "-1",
    "2048",
    "1024",
    "4096",
    "99999999999999999999",
    "1e309",
    "nan",
    "inf",
    "\"\"",
    "\"0s\"",
    "\"1s\"",
    "\"90d\"",
    "\"18446744073709551615s\"",
    "\"584942417355y\"",
    "\"-1d\"",
    "\"1h 30m\"",
    "\"RSA\"",
    "\"EC\"",
    "\"oct\"",
    "\"P-256\"",
    "\"P-521\"",
    "\"secp256k1\"",
    "\"sig\"",
    "\"enc\"",
    "\"ES512\"",
    "\"PS256\"",
    "\"RSA-OAEP\"",
    "\"HS256\"",
    "\"sequence\"",
    "\"thumbprint\"",
    "\"spki-sha256\"",
    "\"https://auth.example.com\"",
    "\"a/b\"",
    "\"..\"",
    "\"\\u0000\"",
    "\"\"\"",
    "'''",
    "spec",
    "kty",
    "size",
    "crv",
    "use",
    "alg",
    "service_id",
    "project_id",
    "issuer",
    "pretty",
    "kid",
    "x5c",
    "api_mirrors",
    "rotate_every",
    "publish_ahead",
    "verify_for",
    "cache_max_age",
    "rotation",
    "key",
];

/// Splits TOML text into tokens: newlines, blanks, comments, strings, words, brackets, symbols.
fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+');
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        i += 1;
        if c == ' ' || c == '\t' {
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            while i < chars.len() && chars[i] != '"' && chars[i] != '\n' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
        } else if (c == '[' || c == ']') && chars.get(i) == Some(&c) {
            i += 1;
        } else if word(c) {
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
        }
        tokens.push(chars[start..i].iter().collect());
    }
    tokens
}

fn default_tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| tokenize(DEFAULT_KEYSET_TOML))
}

/// One token-level edit.
#[derive(Clone, Debug)]
enum TokenEdit {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    Replace(Index, &'static str),
    Insert(Index, &'static str),
    /// Keep only the tokens from the i-th on (drops a prefix: headers, comments).
    DropLine(Index),
}

fn token_edit() -> impl Strategy<Value = TokenEdit> {
    prop_oneof![
        2 => any::<Index>().prop_map(TokenEdit::Delete),
        1 => any::<Index>().prop_map(TokenEdit::Duplicate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| TokenEdit::Swap(a, b)),
        3 => (any::<Index>(), select(TOML_TOKENS)).prop_map(|(i, t)| TokenEdit::Replace(i, t)),
        3 => (any::<Index>(), select(TOML_TOKENS)).prop_map(|(i, t)| TokenEdit::Insert(i, t)),
        1 => any::<Index>().prop_map(TokenEdit::DropLine),
    ]
}

fn edit_tokens(tokens: &mut Vec<String>, edit: &TokenEdit) {
    let len = tokens.len();
    if len == 0 {
        if let TokenEdit::Insert(_, t) = edit {
            tokens.push((*t).into());
        }
        return;
    }
    match edit {
        TokenEdit::Delete(i) => {
            tokens.remove(i.index(len));
        }
        TokenEdit::Duplicate(i) => {
            let at = i.index(len);
            tokens.insert(at, tokens[at].clone());
        }
        TokenEdit::Swap(a, b) => tokens.swap(a.index(len), b.index(len)),
        TokenEdit::Replace(i, t) => tokens[i.index(len)] = (*t).into(),
        TokenEdit::Insert(i, t) => tokens.insert(i.index(len + 1), (*t).into()),
        TokenEdit::DropLine(i) => {
            // Remove the whole line holding the i-th token.
            let at = i.index(len);
            let start = tokens[..at].iter().rposition(|t| t == "\n").map_or(0, |p| p + 1);
            let end = tokens[at..].iter().position(|t| t == "\n").map_or(len, |p| at + p + 1);
            tokens.drain(start..end);
        }
    }
}

/// A TOML value: a string (escaped by the toml crate) or any other literal.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A value of a field: mostly one of `valid` (as a TOML string), sometimes one of `odd`, sometimes
/// a value of another type.
fn field(valid: &'static [&'static str], odd: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        16 => select(valid).prop_map(toml_string),
        2 => select(if odd.is_empty() { valid } else { odd }).prop_map(toml_string),
        1 => ".{0,16}".prop_map(|s| toml_string(&s)),
        1 => prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just("1.5".to_string()),
            Just("1979-05-27T07:32:00Z".to_string()),
        ],
    ]
    .boxed()
}

/// A boolean field: mostly a boolean.
fn boolean() -> BoxedStrategy<String> {
    prop_oneof![9 => any::<bool>().prop_map(|b| b.to_string()), 1 => field(&["true"], &["yes", ""])].boxed()
}

fn span(valid: &'static [&'static str]) -> BoxedStrategy<String> {
    const ODD: &[&str] = &[
        "0s",
        "1ns",
        "999ms",
        "100000000d",
        "18446744073709551615s",
        "9223372036854775807s",
        "584942417355y",
        "-1d",
        "",
        "often",
        "1d 12h",
        "2w",
        "1y",
        "1M",
    ];
    const UNITS: &[&str] = &["s", "m", "h", "d", "w", "M", "y", "ms", "us", "ns", "sec", "days", ""];
    prop_oneof![
        12 => select(valid).prop_map(toml_string),
        2 => select(ODD).prop_map(toml_string),
        2 => (0u64..100_000, select(UNITS)).prop_map(|(n, u)| toml_string(&format!("{n}{u}"))),
        1 => (any::<u64>(), select(UNITS)).prop_map(|(n, u)| toml_string(&format!("{n}{u}"))),
        1 => field(&["90d"], &[]),
    ]
    .boxed()
}

/// A coherent `[[key]]` (kty, size, crv, use, alg that go together) as name/value pairs.
fn coherent_key() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    const RSA_ALGS: &[(&str, &str)] = &[
        ("sig", "RS256"),
        ("sig", "RS384"),
        ("sig", "RS512"),
        ("sig", "PS256"),
        ("sig", "PS384"),
        ("sig", "PS512"),
        ("enc", "RSA-OAEP"),
        ("enc", "RSA-OAEP-256"),
    ];
    let rsa = (select(&[2048i64, 3072, 4096][..]), select(RSA_ALGS)).prop_map(|(size, (u, alg))| {
        vec![
            ("kty", toml_string("RSA")),
            ("size", size.to_string()),
            ("use", toml_string(u)),
            ("alg", toml_string(alg)),
        ]
    });
    let ec = (select(&Curve::ALL[..]), any::<bool>()).prop_map(|(crv, enc)| {
        let (u, alg) = if enc { ("enc", "ECDH-ES") } else { ("sig", crv.signing_alg().name()) };
        vec![
            ("kty", toml_string("EC")),
            ("crv", toml_string(crv.name())),
            ("use", toml_string(u)),
            ("alg", toml_string(alg)),
        ]
    });
    prop_oneof![rsa, ec]
}

/// Values for any `[[key]]` field, to replace a coherent one.
fn key_field() -> impl Strategy<Value = (&'static str, String)> {
    prop_oneof![
        (Just("kty"), field(&["RSA", "EC"], &["oct", "OKP", "rsa", ""])),
        (
            Just("size"),
            prop_oneof![
                4 => select(&[2048i64, 3072, 4096, 1024, 0, -1, 2049, 8192][..]).prop_map(|n| n.to_string()),
                1 => field(&["2048"], &[]),
            ]
        ),
        (Just("crv"), field(&["P-256", "P-384", "P-521"], &["secp256k1", "p-256", ""])),
        (Just("use"), field(&["sig", "enc"], &["x", ""])),
        (Just("alg"), field(ALG_NAMES, &[])),
        (Just("spec"), field(&["a", "b-c", "rsa_sig"], &["has.dot", "", "x y", "-", ".a"])),
        (Just("size_"), field(&["2048"], &[])),
    ]
}

#[derive(Clone, Debug)]
enum KeyTable {
    /// A coherent key; fields with a true flag are left out (the defaults fill them).
    Coherent(Vec<(&'static str, String)>, [bool; 4], Option<(&'static str, String)>),
    /// Fields drawn one by one.
    Random(Vec<(&'static str, String)>),
}

fn key_table() -> impl Strategy<Value = KeyTable> {
    let drop = prop_oneof![3 => Just([false; 4]), 1 => any::<[bool; 4]>()];
    prop_oneof![
        4 => (coherent_key(), drop, prop::option::weighted(0.2, key_field()))
            .prop_map(|(fields, drop, change)| KeyTable::Coherent(fields, drop, change)),
        1 => vec(key_field(), 0..5).prop_map(KeyTable::Random),
    ]
}

/// A keyset.toml built field by field: mostly valid values, sometimes odd ones or other types.
fn random_keyset() -> impl Strategy<Value = String> {
    let opt = |s: BoxedStrategy<String>| prop::option::weighted(0.5, s);
    let top = (
        opt(field(&["example", "svc_1", "a.b"], &["-x", ".hidden", "a/b", "", "x y"])),
        opt(field(&["p1", "project-2"], &["", "..", "x y"])),
        opt(field(&["", "https://auth.example.com", "http://localhost:8000"], &["ftp://x", "https://", "auth"])),
        opt(boolean()),
        opt(field(&["sequence", "thumbprint", "spki-sha256"], &["random", "Sequence", ""])),
        opt(boolean()),
        opt(boolean()),
    );
    let rotation = prop::option::weighted(
        0.6,
        (
            opt(span(&["90d", "30d", "365d", "2w", "1d"])),
            opt(span(&["14d", "7d", "1d", "2h"])),
            opt(span(&["14d", "1d", "0s", "30d"])),
            opt(span(&["1h", "5m", "1d", "30s"])),
            prop::option::weighted(0.05, field(&["1d"], &[])),
        ),
    );
    (top, rotation, vec(key_table(), 0..5), any::<Index>()).prop_map(|(top, rotation, keys, dup)| {
        let mut text = String::new();
        let (service_id, project_id, issuer, pretty, kid, x5c, api_mirrors) = top;
        let fields = [
            ("service_id", service_id),
            ("project_id", project_id),
            ("issuer", issuer),
            ("pretty", pretty),
            ("kid", kid),
            ("x5c", x5c),
            ("api_mirrors", api_mirrors),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                text.push_str(&format!("{name} = {value}\n"));
            }
        }
        if let Some((every, ahead, verify, cache, unknown)) = rotation {
            text.push_str("\n[rotation]\n");
            let fields = [
                ("rotate_every", every),
                ("publish_ahead", ahead),
                ("verify_for", verify),
                ("cache_max_age", cache),
                ("rotate_evry", unknown),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    text.push_str(&format!("{name} = {value}\n"));
                }
            }
        }
        let duplicate = (!keys.is_empty()).then(|| dup.index(keys.len() * 8)).filter(|d| *d < keys.len());
        for (i, key) in keys.iter().enumerate() {
            text.push_str("\n[[key]]\n");
            let mut fields: Vec<(&str, String)> = match key {
                KeyTable::Coherent(fields, drop, change) => {
                    let mut kept: Vec<_> =
                        fields.iter().zip(drop).filter(|(_, d)| !**d).map(|(f, _)| f.clone()).collect();
                    if let Some((name, value)) = change {
                        kept.retain(|(n, _)| n != name);
                        kept.push((name, value.clone()));
                    }
                    kept
                }
                KeyTable::Random(fields) => fields.clone(),
            };
            // Unique spec names unless one is repeated on purpose.
            if !fields.iter().any(|(n, _)| *n == "spec") {
                let name = if duplicate.is_some_and(|d| d < i) { 0 } else { i };
                fields.insert(0, ("spec", toml_string(&format!("k{name}"))));
            }
            let mut seen = Vec::new();
            for (name, value) in fields {
                if !seen.contains(&name) {
                    seen.push(name);
                    text.push_str(&format!("{name} = {value}\n"));
                }
            }
        }
        text
    })
}

#[derive(Clone, Debug)]
struct KeysetCase {
    /// `--now` of the commands run after a successful load (Unix seconds).
    now: i64,
    input: Input,
}

fn keyset_inputs() -> impl Strategy<Value = KeysetCase> {
    let edits = prop_oneof![4 => vec(token_edit(), 1..=1), 2 => vec(token_edit(), 2..=3), 1 => vec(token_edit(), 1..8)];
    let tokens = edits.prop_map(|edits| {
        let mut tokens = default_tokens().to_vec();
        for edit in &edits {
            edit_tokens(&mut tokens, edit);
        }
        Input::new(format!("default keyset.toml, {} token edits", edits.len()), tokens.concat())
    });
    let random = (random_keyset(), prop::option::weighted(0.1, mutations(TOML_DICT, 3))).prop_map(|(text, m)| {
        let texts = m.as_ref().map_or(0, Vec::len);
        let bytes = m.map_or_else(|| text.clone().into_bytes(), |m| mutated(text.as_bytes(), &m));
        Input::new(format!("random keyset.toml, {texts} byte mutations"), bytes)
    });
    let input = prop_oneof![
        1 => vec(any::<u8>(), 0..400).prop_map(|b| Input::new("arbitrary bytes", b)),
        1 => "[a-z_=\\[\\]\"'#. \n0-9{},-]{0,200}".prop_map(|s| Input::new("TOML-ish text", s)),
        1 => mutations(TOML_DICT, 4).prop_map(|m| {
            Input::new("default keyset.toml, byte mutations", mutated(DEFAULT_KEYSET_TOML.as_bytes(), &m))
        }),
        4 => tokens,
        6 => random,
    ];
    let now = prop_oneof![3 => Just(NOW_UNIX), 1 => MIN_UNIX..=MAX_UNIX];
    (now, input).prop_map(|(now, input)| KeysetCase { now, input })
}

fn check_keyset(case: &KeysetCase) -> Result<(), TestCaseError> {
    let bytes = &case.input.bytes;
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let keys = root.join("keys");
    let file = keys.join("keyset.toml");
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => {
            let parsed = guarded("KeysetConfig::parse", || KeysetConfig::parse(text, &file))?;
            error_kind("parse", &parsed);
            if let Err(e) = &parsed
                && !e.to_string().contains(&file.display().to_string())
            {
                return Err(fail(format!("KeysetConfig::parse: the error does not name {}:\n{e}", file.display())));
            }
            if parsed.is_ok() {
                reached("KeysetConfig::parse ok");
            }
            parsed.is_ok()
        }
        Err(_) => false,
    };
    write(&file, bytes);
    // A current EC key with metadata, so that the commands after a load have a key to publish.
    let material = &seed_keys().ec[0].1;
    write(&keys.join(format!("{KID}.pub.pem")), material.public.spki_pem().as_bytes());
    let meta = valid_meta(KID, "ES256");
    let meta = String::from_utf8(meta).expect("JSON").replace("\"spec\":null", "\"spec\":\"ec256-sig\"");
    write(&keys.join(format!("{KID}.meta.json")), meta.as_bytes());
    let loaded = guarded("selftest::read_set_tested", || load_all(&keys))?;
    error_kind("read_set_tested", &loaded);
    expect_named("selftest::read_set_tested", &loaded, !parsed, &file, root)?;
    if parsed && let Err(e) = &loaded {
        return Err(fail(format!("KeysetConfig::parse accepts the file but read_set_tested fails: {e}")));
    }
    if let Ok(sets) = &loaded {
        reached("read_set_tested ok");
        downstream(root, sets, Timestamp::from_unix(case.now))?;
    }
    Ok(())
}

#[test]
fn fuzz_keyset() {
    fuzz("fuzz_keyset", keyset_inputs(), check_keyset);
}

// ---------------------------------------------------------------------------------------------
// Regression cases: fixed inputs through the same properties. A crash the fuzzer finds gets its
// shrunk input added here (the test fails until the product is fixed).
// ---------------------------------------------------------------------------------------------

fn regression_failures<T>(cases: &[T], check: impl Fn(&T) -> Result<(), TestCaseError>) -> Vec<String>
where
    T: fmt::Debug,
{
    install_panic_hook();
    cases.iter().filter_map(|case| check(case).err().map(|e| format!("{e}\ninput: {case:?}"))).collect()
}

#[test]
fn regressions_pem() {
    let case = |layout, input: &[u8]| PemCase { layout, alg: "ES256", input: Input::new("regression", input) };
    let cases = [
        case(Layout::HandDropped, b""),
        case(Layout::HandDropped, b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"),
        case(Layout::HandDropped, b"-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"),
        case(Layout::Private, b"-----BEGIN RSA PUBLIC KEY-----\nMAYCAQACAQA=\n-----END RSA PUBLIC KEY-----\n"),
        case(Layout::Public, b"-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"),
        case(Layout::HandDropped, b"-----BEGIN X-----\n-----END X-----\n-----END X-----"),
        case(Layout::HandDropped, b"{}"),
    ];
    let failures = regression_failures(&cases, check_pem);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn regressions_jwk() {
    let cases: Vec<Input> = [
        &br#"{"kty":"RSA","n":"","e":""}"#[..],
        br#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"","p":"","q":"","dp":"","dq":"","qi":""}"#,
        br#"{"kty":"EC","crv":"P-256","x":"","y":"","d":""}"#,
        br#"{"keys":[]}"#,
        br#"{"keys":{"kty":"EC"}}"#,
        br#"[]"#,
    ]
    .into_iter()
    .map(|b| Input::new("regression", b))
    .collect();
    let failures = regression_failures(&cases, check_jwk);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn regressions_meta() {
    let meta = |created: &str| {
        format!(
            r#"{{"kid":"{KID}","id":"6f1c1f5e-1d7c-4d8e-9a55-000000000001","use":"sig","alg":"ES256","created":"{created}"}}"#
        )
    };
    let case = |now, text: String| MetaCase { key: MetaKey::Ec256Public, now, input: Input::new("regression", text) };
    let cases = [
        case(NOW_UNIX, meta("0000-01-01T00:00:00+23:59")),
        case(MIN_UNIX, meta("0000-01-01T00:00:00Z")),
        case(MAX_UNIX, meta("9999-12-31T23:59:59-23:59")),
        case(NOW_UNIX, meta("2026-01-01T00:00:00.999999999999Z")),
        case(NOW_UNIX, String::new()),
    ];
    let failures = regression_failures(&cases, check_meta);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn regressions_keyset() {
    let case = |now, text: &str| KeysetCase { now, input: Input::new("regression", text) };
    let cases = [
        case(NOW_UNIX, "[rotation]\nrotate_every = \"18446744073709551615s\"\n"),
        case(MAX_UNIX, "[rotation]\nrotate_every = \"584942417355y\"\npublish_ahead = \"584942417354y\"\n"),
        case(MIN_UNIX, "[[key]]\nkty = \"EC\"\nsize = 2048\n"),
        case(NOW_UNIX, "key = []\n"),
        case(NOW_UNIX, "[[key]]\n[[key]]\n"),
        // Found by fuzz_keyset (debug build): `build` panics with "attempt to multiply with
        // overflow" in `site::timeline` (src/site.rs:223 at 7b4e052: `(t - start) * 820 / span`)
        // once rotate_every passes i64::MAX / 820 seconds (~356 million years) and the set has a
        // key with a creation time. Release builds wrap instead and draw a wrong timeline.
        case(NOW_UNIX, "\n[rotation]\nrotate_every = \"11248014679091191s\"\n"),
    ];
    let failures = regression_failures(&cases, check_keyset);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------------------------

/// A panic inside a reader is a failure, reported with its message, location and shrunk input.
#[test]
fn harness_reports_reader_panics() {
    let strategy = vec(any::<u8>(), 0..64).prop_map(|mut b| {
        b.push(b'*');
        Input::new("bytes with a star", b)
    });
    let property = |input: &Input| -> Result<(), TestCaseError> {
        guarded("a reader that panics on `*`", || {
            assert!(!input.bytes.contains(&b'*'), "star found");
        })
    };
    let report = explore("harness", &strategy, &property, Budget::Cases(20));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert!(failure.contains("PANIC in a reader that panics on `*`"), "{failure}");
    assert!(failure.contains("star found") && failure.contains("fuzz.rs"), "{failure}");
    assert!(failure.contains("1 bytes] b\"*\""), "not shrunk to the minimal input: {failure}");
}

/// The seeds are valid: each parses, and loads as a hand-dropped key.
#[test]
fn harness_seeds_are_valid() {
    for seed in pem_seeds() {
        let material = parse_pem(&seed.text).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("keys/k.pem"), &seed.text);
        load_all(&tmp.path().join("keys")).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
        assert!(derive_everything(&material) > 0);
    }
    for (name, jwk) in jwk_seeds() {
        parse_jwk(&serde_json::to_vec(jwk).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    KeysetConfig::parse(&default_tokens().concat(), Path::new("keyset.toml")).unwrap();
    assert_eq!(default_tokens().concat(), DEFAULT_KEYSET_TOML);
    jwksmith::meta::parse(&valid_meta(KID, "ES256")).unwrap();
}
