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
W6  public-only sets (W1's sets' keyset.toml, public files and metadata copied; what a deploy job
    without secrets builds) at 1,000, 10,000 and 100,000 sets: cold build (fresh out/, empty
    record directory), no-op build, check, status --json; time and peak RSS at each size.
W7  the CI path: W6's 1,000 sets, cold build and check on a fresh runner (JWKSMITH_CACHE_DIR an
    empty directory), against the SPKI floor (benches/spki_floor.rs: read and parse each
    *.pub.pem on all cores) and the I/O floors of a build and of check (spki_floor --build: also
    read every other input and write each set's seven outputs atomically; --check: also read
    every other input and every output).
W8  bench/publish_speed.py: `jwksmith publish` of W1's out/public/ to a moto S3 server on
    loopback, first and no-op, against `aws s3 sync` on the same server.
W1 (disk): W1 and the ring floor again with the keys and outputs on the disk (--disk-dir, under
    target/ by default), since users' CI writes to disk.

Every command is a whole process timed from start to exit; peak RSS comes from /usr/bin/time -v.
Medians over the rounds. Every W1 writes to its own new out directory, and nothing is deleted
until the end (W6's outputs, hundreds of thousands of files on tmpfs, are deleted after each size;
each size starts with a warm-up cold build, not counted, as the VM's memory freed minutes before
comes back from the host slowly).
W6 and W7 read their keys from the cache under target/bench-workloads/ (in the page cache after
the first run); --skip w1,w4,w5,w8,python runs only W6, W7 and W1 on disk. The work directory is on tmpfs (/dev/shm) unless --work-dir says otherwise: the
farm's ext4 (no journal) allocates inodes several times slower for minutes after thousands of
files were deleted, which made disk runs vary by 2x with the history of the disk.
"""
import argparse, atexit, os, re, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

NOW = "2026-01-01T00:00:00Z"
W3_SET = "tenant-0500"
W3_KID = "rsa-sig-001"
W6_COMMANDS = ("cold build", "no-op build", "check", "status --json")


def timed(cmd, cwd, env=None, discard=False):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in MiB, stdout). With
    `discard`, stdout goes to /dev/null (status --json of 100,000 sets is ~170 MB)."""
    seconds, mib, stdout, _ = timed_cpu(cmd, cwd, env, discard)
    return seconds, mib, stdout


def timed_cpu(cmd, cwd, env=None, discard=False):
    """timed(), and the CPU seconds (user + system) the command took, last."""
    start = time.perf_counter()
    out = subprocess.DEVNULL if discard else subprocess.PIPE
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    cpu = sum(float(t) for t in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", p.stderr))
    return elapsed, int(rss.group(1)) / 1024 if rss else float("nan"), p.stdout or "", cpu


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


def fresh_env(work, name):
    """The environment of a fresh CI runner: JWKSMITH_CACHE_DIR a new, empty directory."""
    cache = os.path.join(work, name)
    os.makedirs(cache)
    return dict(os.environ, JWKSMITH_CACHE_DIR=cache)


def w6(binary, sizes, runs, cached, cache_root, work):
    """W6 at each size: {size: {command: [(seconds, MiB, CPU seconds), ...]}}."""
    found = {}
    for n in sizes:
        keys = workloads.public_sets(cached, n, cache_root)
        found[n] = {c: [] for c in W6_COMMANDS}
        # A warm-up cold build, not counted: on the benchmark VM, memory freed minutes before (a
        # previous size's outputs, deleted) has gone back to the host, and the first build to
        # need it again pays for every page (10,000 sets: 6.5 s against 1.8 s right after).
        warm = os.path.join(work, f"w6-{n}-warm-up")
        seconds, mib, _ = timed([binary, "build", "-q", "--now", NOW, "--keys", keys, "--out", os.path.join(warm, "out")],
                                work, fresh_env(warm, "cache"), discard=True)
        print(f"  W6 {n:>7} sets, warm-up: cold build     {seconds:8.3f} s  {mib:7.1f} MiB (not counted)", file=sys.stderr)
        shutil.rmtree(warm, True)
        for r in range(runs):
            base = os.path.join(work, f"w6-{n}-{r}")
            out, env = os.path.join(base, "out"), fresh_env(base, "cache")
            common = ["-q", "--now", NOW, "--keys", keys, "--out", out]
            for command, argv in (("cold build", ["build"]), ("no-op build", ["build"]), ("check", ["check"]),
                                  ("status --json", ["status", "--json"])):
                seconds, mib, _, cpu = timed_cpu([binary, *argv, *common], work, env, discard=True)
                found[n][command].append((seconds, mib, cpu))
                print(f"  W6 {n:>7} sets, round {r + 1}: {command:14} {seconds:8.3f} s  {mib:7.1f} MiB", file=sys.stderr)
            shutil.rmtree(base, True)
    return found


def w6_table(found):
    sizes = sorted(found)
    print(f"\nW6: public-only sets (W1's public files and metadata); median time (and CPU time, user + "
          f"system) and largest peak RSS of {len(next(iter(found.values()))['cold build'])} round(s) per size\n")
    print("| command | " + " | ".join(f"{n:,} sets" for n in sizes) + " | growth per 10× sets (time; CPU) |")
    print("|---|" + "---|" * len(sizes) + "---|")
    for command in W6_COMMANDS:
        cells, times, cpus = [], [], []
        for n in sizes:
            rows = found[n][command]
            t, cpu = med([s for s, _, _ in rows]), med([c for _, _, c in rows])
            times.append(t)
            cpus.append(cpu)
            cells.append(f"{t:.2f} s ({cpu:.2f} s CPU), {max(m for _, m, _ in rows):.0f} MiB")
        growth = ", ".join(f"{b / a:.1f}×" for a, b in zip(times, times[1:]))
        growth += "; " + ", ".join(f"{b / a:.1f}×" for a, b in zip(cpus, cpus[1:]))
        print(f"| {command} | " + " | ".join(cells) + f" | {growth} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/jwksmith")
    ap.add_argument("--floor", required=True, help="the ring_floor bench executable")
    ap.add_argument("--spki-floor", required=True, help="the spki_floor bench executable (W7)")
    ap.add_argument("--python", default="python3", help="the python with bench/requirements.txt")
    ap.add_argument("--node", default="node")
    ap.add_argument("--sets", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5, help="rounds of W1/W2/W3 and the fast peers")
    ap.add_argument("--python-runs", type=int, default=3, help="rounds that include the python peer (~90 s each)")
    ap.add_argument("--edits", type=int, default=40, help="W4 edits (half of them key saves)")
    ap.add_argument("--publish-runs", type=int, default=1, help="W8 rounds (each publishes ~4,000 files twice per tool)")
    ap.add_argument("--w6-sizes", default="1000,10000,100000", help="W6's numbers of sets (multiples of 1,000)")
    ap.add_argument("--w6-runs", type=int, default=1, help="W6 rounds per size")
    ap.add_argument("--skip", default="",
                    help="comma-separated: w1 (W1-W3 on tmpfs), w1disk, w4, w5, w6, w7, w8, python")
    ap.add_argument("--work-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where the workload copy and the outputs go (default: /dev/shm, tmpfs)")
    ap.add_argument("--disk-dir", default="target",
                    help="where W1 on disk copies its keys and writes (default: target/, on the repository's disk)")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    here = os.path.dirname(os.path.abspath(__file__))
    binary, floor, spki_floor = os.path.abspath(a.bin), os.path.abspath(a.floor), os.path.abspath(a.spki_floor)
    python = os.path.abspath(a.python) if os.sep in a.python else a.python
    cache_root = os.path.abspath("target/bench-workloads")
    cached = workloads.workload(binary, a.sets, cache_root)

    # Absolute: the commands run in it, and take paths under it.
    work = os.path.abspath(tempfile.mkdtemp(prefix="jwksmith-bench-", dir=a.work_dir))
    atexit.register(shutil.rmtree, work, True)
    keys = os.path.join(work, "keys")
    shutil.copytree(os.path.join(cached, "keys"), keys)
    original = os.path.join(work, "original")
    os.makedirs(original)
    for suffix in (".key.pem", ".pub.pem"):
        shutil.copyfile(os.path.join(keys, W3_SET, W3_KID + suffix), os.path.join(original, W3_KID + suffix))
    spare = os.path.join(cached, "spare")

    def build(out, keys_dir=keys):
        return [binary, "build", "-q", "--now", NOW, "--keys", keys_dir, "--out", out]

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
    for r in range(0 if "w1" in skip else a.runs):
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

    # W1 on disk: the same build and ring floor, keys and outputs on the disk, alternating.
    disk = {"jwksmith build": [], "ring floor": []}
    disk_rss = {name: [] for name in disk}
    if "w1disk" not in skip:
        on_disk = tempfile.mkdtemp(prefix="jwksmith-bench-disk-", dir=os.path.abspath(a.disk_dir))
        atexit.register(shutil.rmtree, on_disk, True)
        disk_keys = os.path.join(on_disk, "keys")
        shutil.copytree(keys, disk_keys)
        for r in range(a.runs):
            names = list(disk) if r % 2 == 0 else list(reversed(disk))
            for name in names:
                out = os.path.join(on_disk, f"out-{r}")
                cmd = build(out, disk_keys) if name == "jwksmith build" else [floor, disk_keys]
                seconds, mib, _ = timed(cmd, on_disk)
                disk[name].append(seconds)
                disk_rss[name].append(mib)
                print(f"  round {r + 1}: W1 on disk: {name:15} {seconds:7.3f} s  {mib:6.1f} MiB", file=sys.stderr)

    # W7: the CI path, 1,000 public-only sets on a fresh runner, against the SPKI floor and the
    # I/O floors of a build and of check (spki_floor --build / --check).
    w7 = {name: [] for name in ("jwksmith build", "jwksmith check", "spki floor", "build I/O floor",
                                "check I/O floor")}
    w7_rss = {name: [] for name in w7}
    if "w7" not in skip:
        public = workloads.public_sets(cached, 1000, cache_root)
        # One untimed read first: whichever tool went first would otherwise read from the disk.
        timed([spki_floor, public], work)
        for r in range(a.runs):
            base = os.path.join(work, f"w7-{r}")
            out, env = os.path.join(base, "out"), fresh_env(base, "cache")
            common = ["-q", "--now", NOW, "--keys", public, "--out", out]
            pairs = [[("spki floor", [spki_floor, public])],
                     [("build I/O floor", [spki_floor, public, "--build", os.path.join(base, "floor")]),
                      ("jwksmith build", [binary, "build", *common])],
                     # The check floor reads the out/ the build of this round wrote.
                     [("check I/O floor", [spki_floor, public, "--check", out]),
                      ("jwksmith check", [binary, "check", *common])]]
            if r % 2:  # the floors run first in even rounds, last in odd ones
                pairs = [pair[::-1] for pair in pairs[1:] + pairs[:1]]
            for name, cmd in (step for pair in pairs for step in pair):
                seconds, mib, _ = timed(cmd, work, env)
                w7[name].append(seconds)
                w7_rss[name].append(mib)
                print(f"  round {r + 1}: W7 {name:15} {seconds:7.3f} s  {mib:6.1f} MiB", file=sys.stderr)

    w6_found = None
    if "w6" not in skip:
        sizes = [int(n) for n in a.w6_sizes.split(",") if n]
        w6_found = w6(binary, sizes, a.w6_runs, cached, cache_root, work)

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
    w8 = None
    if "w8" not in skip:
        p = subprocess.run([sys.executable, os.path.join(here, "publish_speed.py"), "--bin", binary, "--workload", cached,
                            "--python", python, "--runs", str(a.publish_runs)], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"W8 failed:\n{p.stderr}")
        w8 = p.stdout

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
    if w2:
        print(f"| W2 (no change) | jwksmith build | {med(w2):.3f} s | {len(w2)} | {med(w2) / j * 100:.1f} % of W1, "
              f"{max(w2_written)} files written | {max(w2_rss):.0f} MiB |")
        print(f"| W3 (one key changed) | jwksmith build | {med(w3):.3f} s | {len(w3)} | {med(w3) / j * 100:.1f} % of W1, "
              f"{statistics.median(w3_written):.0f} files written | |")
    if disk["jwksmith build"]:
        d = med(disk["jwksmith build"])
        for name in disk:
            ratio = f"{d / med(disk[name]):.2f}x the floor's time (on disk)" if name == "ring floor" else ""
            print(f"| W1 on disk | {name} | {med(disk[name]):.3f} s | {len(disk[name])} | {ratio} | "
                  f"{max(disk_rss[name]):.0f} MiB |")
    if w7["jwksmith build"]:
        f = med(w7["spki floor"])
        io = {"jwksmith build": med(w7["build I/O floor"]), "jwksmith check": med(w7["check I/O floor"])}
        for name in w7:
            t = med(w7[name])
            ratio = "" if name == "spki floor" else f"{t / f:.2f}x the SPKI floor's time"
            if name.endswith("I/O floor"):
                ratio = f"(a floor: itself {t / f:.2f}x the SPKI floor's time)"
            if name in io:
                ratio += f", {t / io[name]:.2f}x its I/O floor's"
            print(f"| W7 (1,000 public-only sets, no record) | {name} | {t:.3f} s | {len(w7[name])} | "
                  f"{ratio} | {max(w7_rss[name]):.0f} MiB |")
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
    if w6_found:
        w6_table(w6_found)
    if w8:
        print(w8.rstrip())
    if w4:
        print("\nW4 detail, W1's sets (bench/watch_latency.py --workload):\n" + w4.rstrip())
        print("W4 detail, one small set (bench/watch_latency.py):\n" + w4_small.rstrip())


if __name__ == "__main__":
    main()
