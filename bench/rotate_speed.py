#!/usr/bin/env python3
"""Key generation speed: `jwksmith rotate` on N empty sets of the default 4 specs (2 RSA-2048,
2 P-256 per set), on all cores versus one thread (RAYON_NUM_THREADS=1, the same generator in a
single-thread loop). Prints keys/s for each, alternating runs, medians.

usage: bench/rotate_speed.py [--sets 100] [--runs 3] [--bin target/release/jwksmith]
"""
import argparse, os, statistics, subprocess, tempfile, time

def one_run(binary, sets, threads):
    with tempfile.TemporaryDirectory() as root:
        for i in range(sets):
            os.makedirs(os.path.join(root, "keys", f"tenant-{i:04d}"))
            open(os.path.join(root, "keys", f"tenant-{i:04d}", "keyset.toml"), "w").close()
        env = dict(os.environ)
        if threads:
            env["RAYON_NUM_THREADS"] = str(threads)
        start = time.perf_counter()
        subprocess.run([binary, "rotate", "-q", "--now", "2026-01-01T00:00:00Z"], cwd=root, env=env, check=True)
        return time.perf_counter() - start

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default="target/release/jwksmith")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    keys = a.sets * 4
    par, single = [], []
    for _ in range(a.runs):
        par.append(one_run(binary, a.sets, None))
        single.append(one_run(binary, a.sets, 1))
    p, s = statistics.median(par), statistics.median(single)
    print(f"rotate of {a.sets} empty sets ({keys} keys), {os.cpu_count()} cores, median of {a.runs}:")
    print(f"  all cores   : {p:6.2f} s  {keys / p:7.1f} keys/s")
    print(f"  one thread  : {s:6.2f} s  {keys / s:7.1f} keys/s")
    print(f"  speed-up    : {s / p:.2f}x")

if __name__ == "__main__":
    main()
