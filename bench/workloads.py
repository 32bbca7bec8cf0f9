#!/usr/bin/env python3
"""The workloads of bench/run, made reproducibly and cached.

W1's key directory: SETS key sets `tenant-0000` ... each with an empty (default) keyset.toml, so
the four default specs (rsa-sig and rsa-enc RSA-2048, ec256-sig and ec256-enc P-256), and their
first keys made by `jwksmith rotate --now 2026-01-01T00:00:00Z` (private, public and metadata
files). Beside it, `spare/`: one more set whose rsa-sig key W3 swaps in. Key generation takes a
while (about 2,000 RSA keys), so the result is cached under
target/bench-workloads/<VERSION>-<SETS>/ and reused; bump VERSION when the layout changes.

usage: bench/workloads.py [--sets 1000] [--bin target/release/jwksmith] [--cache target/bench-workloads]
prints the cached workload directory (holding keys/ and spare/).
"""
import argparse, os, shutil, subprocess, sys

VERSION = "w1-v1"
NOW = "2026-01-01T00:00:00Z"


def make_sets(keys_dir, names):
    for name in names:
        os.makedirs(os.path.join(keys_dir, name), exist_ok=True)
        open(os.path.join(keys_dir, name, "keyset.toml"), "w").close()


def workload(binary, sets, cache):
    """Returns the directory holding keys/ (W1) and spare/, generating it on the first call."""
    root = os.path.join(cache, f"{VERSION}-{sets}")
    if os.path.isfile(os.path.join(root, "DONE")):
        return root
    shutil.rmtree(root, ignore_errors=True)
    building = root + ".partial"
    shutil.rmtree(building, ignore_errors=True)
    make_sets(os.path.join(building, "keys"), [f"tenant-{i:04d}" for i in range(sets)])
    make_sets(os.path.join(building, "spare"), ["."])
    print(f"generating the W1 workload ({sets} sets, {sets * 4} keys) in {root} (once) ...", file=sys.stderr)
    for keys in ("keys", "spare"):
        subprocess.run([binary, "rotate", "-q", "--now", NOW, "--keys", keys, "--out", "out"], cwd=building, check=True)
    with open(os.path.join(building, "DONE"), "w") as f:
        f.write(f"{VERSION} {sets} sets, made by `jwksmith rotate --now {NOW}`\n")
    os.rename(building, root)
    return root


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=1000)
    ap.add_argument("--bin", default="target/release/jwksmith")
    ap.add_argument("--cache", default="target/bench-workloads")
    a = ap.parse_args()
    print(workload(os.path.abspath(a.bin), a.sets, os.path.abspath(a.cache)))


if __name__ == "__main__":
    main()
