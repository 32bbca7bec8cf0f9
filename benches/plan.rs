//! Micro-benchmark of the pure planning step: `plan::plan_set` for one loaded set of the
//! default four specs (2 RSA-2048, 2 P-256, private parts present), the work `build` does per
//! set between loading and writing. Run with `cargo bench --bench plan`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jwksmith::cmd::Context;
use jwksmith::cmd::rotate::{RotateOptions, run as rotate};
use jwksmith::keydir::discover;
use jwksmith::plan::{PlanOptions, plan_set};
use jwksmith::selftest::{SelfTested, read_set_tested};
use jwksmith::times::Timestamp;
use jwksmith::ui::{Ui, Verbosity};

fn plan_one_set(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    std::fs::write(keys.join("keyset.toml"), "").expect("default keyset.toml");
    let now = Timestamp::parse("2026-01-01T00:00:00Z").expect("time");
    let ctx = Context { now, now_fixed: true, ui: Ui::new(Verbosity::Quiet), ..Context::new(&keys, "out") };
    rotate(&ctx, &RotateOptions::default()).expect("rotate makes the first keys");
    let dirs = discover(&keys).expect("discover");
    let (set, _warnings) = read_set_tested(&dirs[0], &SelfTested::default()).expect("load");
    assert_eq!(set.keys.len(), 4);

    let mut group = c.benchmark_group("plan");
    group.bench_function("plan_set (4 keys, compact)", |b| {
        b.iter(|| plan_set(black_box(&set), black_box(now), PlanOptions::default()))
    });
    group.bench_function("plan_set (4 keys, --pretty)", |b| {
        b.iter(|| plan_set(black_box(&set), black_box(now), PlanOptions { force_pretty: true }))
    });
    group.finish();
}

criterion_group!(benches, plan_one_set);
criterion_main!(benches);
