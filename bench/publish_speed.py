#!/usr/bin/env python3
"""W8 of bench/run: `jwksmith publish` of W1's 1,000 sets against `aws s3 sync`, on one moto S3
server on loopback (moto's server mode and awscli, pinned in bench/requirements.txt).

Each round publishes W1's out/public/ (about 7,000 files) into two new buckets, one per tool,
first into the empty bucket, then again with nothing changed (the no-op), the tools alternating
which goes first. Every command is a whole process timed from start to exit; the requests each
one made are counted in the server's request log.

`aws s3 sync out/public s3://B --exclude _headers --exclude .nojekyll` is what the README once
recommended: it sets no Cache-Control, and types the extension-less JSON files by guess
(binary/octet-stream); jwksmith sets both per set, and reads each object's metadata (HEAD) to
tell an object in place from one to replace, where `aws s3 sync` compares sizes and times only.

usage: bench/publish_speed.py --workload DIR --python VENV_PYTHON [--bin target/release/jwksmith] [--runs 1]
"""
import argparse, os, shutil, socket, statistics, subprocess, sys, tempfile, time

NOW = "2026-01-01T00:00:00Z"
KEYS = ("AKIAIOSFODNN7EXAMPLE", "bench-secret")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/jwksmith")
    ap.add_argument("--workload", required=True, help="a directory holding W1's keys/")
    ap.add_argument("--python", required=True, help="the python with moto[server] and awscli")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--work-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    work = tempfile.mkdtemp(prefix="jwksmith-publish-", dir=a.work_dir)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = os.path.join(work, "moto.log")
    log = open(log_path, "w")
    server = subprocess.Popen([a.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=log)
    try:
        run(a, binary, work, endpoint, log_path)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(work, True)


def requests(log_path):
    with open(log_path) as f:
        return sum(1 for line in f if ' HTTP/1.1" ' in line)


def run(a, binary, work, endpoint, log_path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEYS[0], AWS_SECRET_ACCESS_KEY=KEYS[1], AWS_REGION="us-east-1",
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
    env.pop("CI", None)
    keys = os.path.join(work, "keys")
    shutil.copytree(os.path.join(a.workload, "keys"), keys)
    out = os.path.join(work, "out")
    subprocess.run([binary, "build", "-q", "--now", NOW, "--keys", keys, "--out", out], check=True)
    files = sum(len(f) for _, _, f in os.walk(os.path.join(out, "public"))) - 2
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(endpoint.rsplit(":", 1)[1])), 1).close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("moto did not start")
            time.sleep(0.1)
    aws = [a.python, "-m", "awscli", "--endpoint-url", endpoint]

    def jwksmith(bucket):
        return [binary, "publish", f"s3://{bucket}", "-q", "--now", NOW, "--keys", keys, "--out", out]

    def sync(bucket):
        return [*aws, "s3", "sync", "--only-show-errors", os.path.join(out, "public"), f"s3://{bucket}",
                "--exclude", "_headers", "--exclude", ".nojekyll"]

    tools = {"jwksmith publish": jwksmith, "aws s3 sync": sync}
    times = {(t, w): [] for t in tools for w in ("first", "no-op")}
    counts = {}
    for r in range(a.runs):
        order = list(tools) if r % 2 == 0 else list(reversed(tools))
        for name in order:
            bucket = f"{name.split()[0]}-{r}"
            subprocess.run([*aws, "s3", "mb", f"s3://{bucket}"], env=env, check=True, capture_output=True)
            for which in ("first", "no-op"):
                before = requests(log_path)
                start = time.perf_counter()
                p = subprocess.run(tools[name](bucket), env=env, capture_output=True, text=True)
                elapsed = time.perf_counter() - start
                if p.returncode != 0:
                    sys.exit(f"{name} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
                time.sleep(0.5)  # the server writes its log line after the answer
                counts[(name, which)] = requests(log_path) - before
                times[(name, which)].append(elapsed)
                print(f"  round {r + 1}: {name:16} {which:5} {elapsed:7.2f} s  {counts[(name, which)]} requests",
                      file=sys.stderr)
    print(f"\nW8: publish of W1's out/public/ ({files} files) to moto on loopback; medians of {a.runs} round(s)\n")
    print("| workload | tool | median | runs | requests |")
    print("|---|---|---|---|---|")
    for which in ("first", "no-op"):
        for name in tools:
            t = statistics.median(times[(name, which)])
            print(f"| W8 ({which}) | {name} | {t:.2f} s | {len(times[(name, which)])} | {counts[(name, which)]} |")


if __name__ == "__main__":
    main()
