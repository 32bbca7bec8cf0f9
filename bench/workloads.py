#!/usr/bin/env python3
"""The workloads of bench/run, made reproducibly and cached.

W1's key directory: SETS key sets `tenant-0000` ... each with an empty (default) keyset.toml, so
the four default specs (rsa-sig and rsa-enc RSA-2048, ec256-sig and ec256-enc P-256), and their
first keys made by `jwksmith rotate --now 2026-01-01T00:00:00Z` (private, public and metadata
files). Beside it, `spare/`: one more set whose rsa-sig key W3 swaps in. Key generation takes a
while (about 2,000 RSA keys), so the result is cached under
target/bench-workloads/<VERSION>-<SETS>/ and reused; bump VERSION when the layout changes.

W6's key directories (and W7's, the 1,000 of them): public-only sets made from W1's by copying
each set's keyset.toml, public files and metadata (no private key), 1,000 sets per `copy-NNN/`
directory, cached under target/bench-workloads/w6-v1-<SETS>/keys/.

usage: bench/workloads.py [--sets 1000] [--bin target/release/jwksmith] [--cache target/bench-workloads]
                          [--public SETS]
prints the cached workload directory (holding keys/ and spare/), or with --public W6's keys/.
"""
import argparse, os, shutil, subprocess, sys

VERSION = "w1-v1"
PUBLIC_VERSION = "w6-v1"
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


def public_sets(w1_root, sets, cache):
    """Returns the key directory of W6/W7: `sets` public-only sets (a multiple of W1's 1,000),
    W1's sets' keyset.toml, *.pub.pem and *.meta.json copied (no private key: what a deploy job
    without secrets builds) into `copy-000/tenant-0000` ... `copy-NNN/tenant-0999`, made once
    from W1's workload root and cached beside it."""
    w1_keys = os.path.join(w1_root, "keys")
    names = sorted(n for n in os.listdir(w1_keys) if not n.startswith("."))
    if sets % len(names):
        sys.exit(f"W6 sizes must be multiples of W1's {len(names)} sets, not {sets}")
    root = os.path.join(cache, f"{PUBLIC_VERSION}-{sets}")
    if os.path.isfile(os.path.join(root, "DONE")):
        return os.path.join(root, "keys")
    shutil.rmtree(root, ignore_errors=True)
    building = root + ".partial"
    shutil.rmtree(building, ignore_errors=True)
    print(f"making the W6 workload ({sets} public-only sets) in {root} (once) ...", file=sys.stderr)
    template = os.path.join(building, "copy-000")
    for name in names:
        os.makedirs(os.path.join(template, name))
        for f in sorted(os.listdir(os.path.join(w1_keys, name))):
            if f == "keyset.toml" or f.endswith((".pub.pem", ".meta.json")):
                shutil.copy2(os.path.join(w1_keys, name, f), os.path.join(template, name, f))
    for c in range(1, sets // len(names)):
        # cp copies 9,000 files several times faster than shutil.copytree.
        subprocess.run(["cp", "-a", template, os.path.join(building, f"copy-{c:03d}")], check=True)
    os.makedirs(os.path.join(building, "keys"))
    for c in range(sets // len(names)):
        os.rename(os.path.join(building, f"copy-{c:03d}"), os.path.join(building, "keys", f"copy-{c:03d}"))
    with open(os.path.join(building, "DONE"), "w") as f:
        f.write(f"{PUBLIC_VERSION} {sets} public-only sets copied from {w1_root}\n")
    os.rename(building, root)
    return os.path.join(root, "keys")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=1000)
    ap.add_argument("--bin", default="target/release/jwksmith")
    ap.add_argument("--cache", default="target/bench-workloads")
    ap.add_argument("--public", type=int, metavar="SETS", help="print (and make) W6's key directory of SETS public-only sets")
    a = ap.parse_args()
    root = workload(os.path.abspath(a.bin), a.sets, os.path.abspath(a.cache))
    print(public_sets(root, a.public, os.path.abspath(a.cache)) if a.public else root)


if __name__ == "__main__":
    main()
