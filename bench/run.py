#!/usr/bin/env python3
"""The benchmark of docs/BENCHMARKS.md; run it through `bench/run`, which builds and installs first.

W1  `jwksmith build` of 1,000 sets x 4 keys (2,000 RSA-2048, 2,000 P-256) into a fresh out/:
    every output, self-test included. Peers, timed alternately with it in the same rounds:
    the ring floor (benches/ring_floor.rs: parse, sign and verify each private key on all
    cores), node + jose and python + joserfc (bench/peer_*: W1's conversion only).
W2  the same build again, nothing changed: time, and files whose mtime changed (must be 0).
W3  one key of one set replaced (its .key.pem and .pub.pem), then build.
W4  bench/watch_latency.py --workload (serve over W1's keys): key saved -> new jwks.json.
W5  bench/rotate_speed.py: rotate of 100 empty sets, all cores vs one thread.
W6  bench/publish_speed.py: `jwksmith publish` of W1's out/public/ to a moto S3 server on
    loopback, first and no-op, against `aws s3 sync` on the same server.

Every command is a whole process timed from start to exit; peak RSS comes from /usr/bin/time -v.
Medians over the rounds. Every W1 writes to its own new out directory, and nothing is deleted
until the end. The work directory is on tmpfs (/dev/shm) unless --work-dir says otherwise: the
farm's ext4 (no journal) allocates inodes several times slower for minutes after thousands of
files were deleted, which made disk runs vary by 2x with the history of the disk.
"""
import argparse, atexit, os, re, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

NOW = "2026-01-01T00:00:00Z"
W3_SET = "tenant-0500"
W3_KID = "rsa-sig-001"


def timed(cmd, cwd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in MiB, stdout)."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return elapsed, int(rss.group(1)) / 1024 if rss else float("nan"), p.stdout


def mtimes(out):
    found = {}
    for d, _, files in os.walk(out):
        for f in files:
            path = os.path.join(d, f)
            found[path] = os.stat(path).st_mtime_ns
    return found


def changed(before, after):
    return sorted(p for p in after if before.get(p) != after[p]) + sorted(p for p in before if p not in after)


def swap_key(keys, source_dir):
    """Saves the .key.pem and .pub.pem of W3_KID from source_dir over W3_SET's (the meta stays)."""
    for suffix in (".key.pem", ".pub.pem"):
        name = W3_KID + suffix
        shutil.copyfile(os.path.join(source_dir, name), os.path.join(keys, W3_SET, name))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/jwksmith")
    ap.add_argument("--floor", required=True, help="the ring_floor bench executable")
    ap.add_argument("--python", default="python3", help="the python with bench/requirements.txt")
    ap.add_argument("--node", default="node")
    ap.add_argument("--sets", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5, help="rounds of W1/W2/W3 and the fast peers")
    ap.add_argument("--python-runs", type=int, default=3, help="rounds that include the python peer (~90 s each)")
    ap.add_argument("--edits", type=int, default=40, help="W4 edits (half of them key saves)")
    ap.add_argument("--publish-runs", type=int, default=1, help="W6 rounds (each publishes ~7,000 files twice per tool)")
    ap.add_argument("--skip", default="", help="comma-separated: w4, w5, w6, python")
    ap.add_argument("--work-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where the workload copy and the outputs go (default: /dev/shm, tmpfs)")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    here = os.path.dirname(os.path.abspath(__file__))
    binary, floor = os.path.abspath(a.bin), os.path.abspath(a.floor)
    python = os.path.abspath(a.python) if os.sep in a.python else a.python
    cached = workloads.workload(binary, a.sets, os.path.abspath("target/bench-workloads"))

    work = tempfile.mkdtemp(prefix="jwksmith-bench-", dir=a.work_dir)
    atexit.register(shutil.rmtree, work, True)
    keys = os.path.join(work, "keys")
    shutil.copytree(os.path.join(cached, "keys"), keys)
    original = os.path.join(work, "original")
    os.makedirs(original)
    for suffix in (".key.pem", ".pub.pem"):
        shutil.copyfile(os.path.join(keys, W3_SET, W3_KID + suffix), os.path.join(original, W3_KID + suffix))
    spare = os.path.join(cached, "spare")

    def build(out):
        return [binary, "build", "-q", "--now", NOW, "--keys", keys, "--out", out]

    tools = {
        "jwksmith build": lambda out: build(out),
        "ring floor": lambda out: [floor, keys],
        "node + jose": lambda out: [a.node, os.path.join(here, "peer_jose.mjs"), keys, out],
        "python + joserfc": lambda out: [python, os.path.join(here, "peer_joserfc.py"), keys, out],
    }
    times = {name: [] for name in tools}
    rss = {name: [] for name in tools}
    w2, w2_rss, w2_written, w3, w3_written = [], [], [], [], []
    order = list(tools)
    for r in range(a.runs):
        for name in order[r % len(order):] + order[: r % len(order)]:
            if name.startswith("python") and ("python" in skip or r >= a.python_runs):
                continue
            out = os.path.join(work, f"out-{r}-{name.split()[0]}")
            seconds, mib, _ = timed(tools[name](out), work)
            times[name].append(seconds)
            rss[name].append(mib)
            print(f"  round {r + 1}: {name:17} {seconds:7.3f} s  {mib:6.1f} MiB", file=sys.stderr)
            if name != "jwksmith build":
                continue
            before = mtimes(out)
            seconds, mib, _ = timed(build(out), work)
            w2.append(seconds)
            w2_rss.append(mib)
            w2_written.append(len(changed(before, mtimes(out))))
            swap_key(keys, spare)
            before = mtimes(out)
            seconds, _, _ = timed(build(out), work)
            w3.append(seconds)
            w3_written.append(len(changed(before, mtimes(out))))
            swap_key(keys, original)
            print(f"  round {r + 1}: W2 {w2[-1]:.3f} s ({w2_written[-1]} files written), "
                  f"W3 {w3[-1]:.3f} s ({w3_written[-1]} files written)", file=sys.stderr)

    w4 = w4_small = None
    if "w4" not in skip:
        watch = [sys.executable, os.path.join(here, "watch_latency.py"), "--edits", str(a.edits), "--bin", binary]
        w4 = subprocess.run([*watch, "--workload", work], capture_output=True, text=True, check=True).stdout
        w4_small = subprocess.run(watch, capture_output=True, text=True, check=True).stdout
    w5 = None
    if "w5" not in skip:
        p = subprocess.run([sys.executable, os.path.join(here, "rotate_speed.py"), "--sets", "100", "--runs", "3",
                            "--bin", binary], capture_output=True, text=True, check=True)
        w5 = p.stdout
    w6 = None
    if "w6" not in skip:
        p = subprocess.run([sys.executable, os.path.join(here, "publish_speed.py"), "--bin", binary, "--workload", cached,
                            "--python", python, "--runs", str(a.publish_runs)], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"W6 failed:\n{p.stderr}")
        w6 = p.stdout

    j = med(times["jwksmith build"])
    python_runs = len(times["python + joserfc"])
    print(f"\n{a.sets} sets x 4 keys ({a.sets * 2} RSA-2048, {a.sets * 2} P-256), {os.cpu_count()} cores; "
          f"medians of {a.runs} alternating rounds" + (f" (python: {python_runs})" if python_runs else "") + "\n")
    print("| workload | tool | median | runs | jwksmith is | peak RSS |")
    print("|---|---|---|---|---|---|")
    for name in tools:
        if not times[name]:
            continue
        t = med(times[name])
        if name == "jwksmith build":
            ratio = ""
        elif name == "ring floor":
            ratio = f"{j / t:.2f}x the floor's time"
        else:
            ratio = f"{t / j:.1f}x faster"
        print(f"| W1 | {name} | {t:.3f} s | {len(times[name])} | {ratio} | {max(rss[name]):.0f} MiB |")
    print(f"| W2 (no change) | jwksmith build | {med(w2):.3f} s | {len(w2)} | {med(w2) / j * 100:.1f} % of W1, "
          f"{max(w2_written)} files written | {max(w2_rss):.0f} MiB |")
    print(f"| W3 (one key changed) | jwksmith build | {med(w3):.3f} s | {len(w3)} | {med(w3) / j * 100:.1f} % of W1, "
          f"{statistics.median(w3_written):.0f} files written | |")
    for label, out in (("W1's 1,000 sets", w4), ("one small set", w4_small)):
        key = re.search(r"key\s+p50\s+(\d+) ms\s+p95\s+(\d+) ms", out or "")
        n = re.search(r"\((\d+) key saves", out or "")
        if key and n:
            print(f"| W4 (watch, key saved; {label}) | jwksmith serve | p50 {key.group(1)} ms, p95 {key.group(2)} ms | "
                  f"{n.group(1)} | | |")
    if w5:
        par = re.search(r"all cores\s*:\s*([\d.]+) s\s+([\d.]+) keys/s", w5)
        one = re.search(r"one thread\s*:\s*([\d.]+) s\s+([\d.]+) keys/s", w5)
        up = re.search(r"speed-up\s*:\s*([\d.]+)x", w5)
        if par and one and up:
            print(f"| W5 (rotate 100 empty sets) | all cores / one thread | {par.group(1)} s / {one.group(1)} s | 3 | "
                  f"{par.group(2)} / {one.group(2)} keys/s, {up.group(1)}x | |")
    if w6:
        print(w6.rstrip())
    if w4:
        print("\nW4 detail, W1's sets (bench/watch_latency.py --workload):\n" + w4.rstrip())
        print("W4 detail, one small set (bench/watch_latency.py):\n" + w4_small.rstrip())


if __name__ == "__main__":
    main()
