#!/usr/bin/env python3
"""Watch latency: with `jwksmith serve` running, save a key file or a template, and time until
the new bytes are served over HTTP. Reports p50/p95 over N edits (half key saves, half template
edits). By default `keys/` is one small set; with --workload DIR it is a copy of DIR/keys (bench/run
passes W1's 1,000 sets), and the saved key is the root set's hand-dropped `keys/hand.pem`.

usage: bench/watch_latency.py [--edits 30] [--bin target/release/jwksmith] [--workload DIR]
"""
import argparse, os, shutil, statistics, subprocess, tempfile, time, urllib.request

def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read()
    except Exception:
        return b""

def wait_for(url, predicate, timeout=10.0):
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if predicate(fetch(url)):
            return time.perf_counter()
        time.sleep(0.005)
    raise SystemExit(f"timed out waiting for {url}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--bin", default="target/release/jwksmith")
    ap.add_argument("--workload", help="a directory whose keys/ to copy (bench/workloads.py)")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory() as root:
        now = "2026-01-01T00:00:00Z"
        os.makedirs(os.path.join(root, "site-template"))
        if a.workload:
            shutil.copytree(os.path.join(a.workload, "keys"), os.path.join(root, "keys"))
            # the first set's directory (keys/.jwksmith holds rotate's own record, not a set)
            first = sorted(n for n in os.listdir(os.path.join(root, "keys")) if not n.startswith("."))[0]
            ready = f"/{first}/jwks.json"
        else:
            os.makedirs(os.path.join(root, "keys"))
            with open(os.path.join(root, "keys", "keyset.toml"), "w") as f:
                f.write('[[key]]\nspec = "rsa-sig"\nkty = "RSA"\n[[key]]\nspec = "ec-sig"\nkty = "EC"\n')
            subprocess.run([binary, "rotate", "-q", "--now", now], cwd=root, check=True)
            ready = "/jwks.json"
        pems = []
        for i in range(a.edits):
            pem = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                                 capture_output=True, check=True).stdout
            pems.append(pem)
        server = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:0", "--now", now], cwd=root,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = server.stdout.readline()
            base = line.strip().split(" at ")[-1].rstrip("/")
            wait_for(base + ready, lambda b: b"rsa-sig-001" in b, timeout=120.0)
            # Saves count only once the watcher is set up (it reports so after the first build).
            while "watching" not in (line := server.stdout.readline()):
                if not line:
                    raise SystemExit("jwksmith serve exited before watching")
            samples = {"key": [], "template": []}
            for i in range(a.edits):
                if i % 2 == 0:
                    # a key file saved: kid "hand" changes its x coordinate each time
                    path = os.path.join(root, "keys", "hand.pem")
                    before = fetch(base + "/jwks.json")
                    start = time.perf_counter()
                    with open(path, "wb") as f:
                        f.write(pems[i])
                    end = wait_for(base + "/jwks.json", lambda b, before=before: b"hand" in b and b != before)
                    samples["key"].append(end - start)
                else:
                    marker = f"edit-{i}-{time.time_ns()}"
                    start = time.perf_counter()
                    with open(os.path.join(root, "site-template", "index.html"), "w") as f:
                        f.write("{% extends \"default/index.html\" %}{% block intro %}<h1>" + marker + "</h1>{% endblock %}")
                    end = wait_for(base + "/", lambda b, m=marker: m.encode() in b)
                    samples["template"].append(end - start)
                time.sleep(0.3)
        finally:
            server.kill()
            server.wait()
    every = sorted(samples["key"] + samples["template"])
    def pct(xs, q):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] * 1000
    print(f"save -> served latency over {len(every)} edits ({len(samples['key'])} key saves, {len(samples['template'])} template edits):")
    print(f"  all      p50 {pct(every, .5):6.0f} ms   p95 {pct(every, .95):6.0f} ms   max {every[-1]*1000:6.0f} ms")
    for kind, xs in samples.items():
        print(f"  {kind:8} p50 {pct(xs, .5):6.0f} ms   p95 {pct(xs, .95):6.0f} ms")

if __name__ == "__main__":
    main()
