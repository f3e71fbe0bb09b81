#!/usr/bin/env python3
"""Benchmark driver (run by bench/run.sh; see BENCHMARKS.md).

For each N it writes a dump with N MachineSets (bench/gen.py), starts test-apiserver on it
and measures, for the audit and the check-mode update:
  ours       ocp-bootimage audit -o json / ocp-bootimage machineset_bootimage --check
  k8s_core   bench/k8s-core.yml (kubernetes.core k8s_info + k8s --check), the NAIVE playbook
             (per-item set_fact loop; the best one is measured on a real kube-apiserver by
             bench/k8s-core-best.sh)
  kubectl_jq bench/kubectl-jq-audit.sh (audit only)
wall time (median of REPS runs after one warm-up, against the server directly), API
requests (one run through bench/countproxy.py), peak RSS (/usr/bin/time -f %M, the largest
process). Then the per-task overhead as an Ansible module (20 ping vs 20 bootimage_info).
Writes bench/results/results.json, results.md and time-vs-n.svg.

BENCH_JOBS (default `read,write`) chooses the jobs: `read` is the above; `write` is the real
update and its rollback beside a `kubectl patch` loop and a raw PATCH floor
(bench/bench_write.py, results in bench/results/results-write-<server>.{json,md};
BENCH_SERVER=real runs it against a real kube-apiserver instead of the test server).
"""
import json, os, statistics, subprocess, sys, time, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench/results")
WORK = os.path.join(ROOT, "target/bench")
BIN = os.path.join(ROOT, "target/release/ocp-bootimage")
SRV = os.path.join(ROOT, "target/release/test-apiserver")
VENV = os.path.join(WORK, "venv")
NS = [int(x) for x in os.environ.get("BENCH_NS", "10,100,1000").split(",")]
REPS = int(os.environ.get("BENCH_REPS", "5"))
# kubernetes.core takes minutes per run at N=1000 (one module process per MachineSet).
SLOW_REPS = int(os.environ.get("BENCH_SLOW_REPS", "1"))
ENV = dict(os.environ, HOME=os.path.join(WORK, "home"), ANSIBLE_LOCALHOST_WARNING="False",
           ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV, "bin/python"),
           ANSIBLE_LOCAL_TEMP=os.path.join(WORK, "home/ansible-tmp"), ANSIBLE_NOCOLOR="1")
for k in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY"):
    ENV.pop(k, None)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def commands(tool, job, kc):
    pb = [os.path.join(VENV, "bin/ansible-playbook"), os.path.join(ROOT, "bench/k8s-core.yml"), "-e", f"kubeconfig={kc}"]
    return {
        ("ours", "audit"): [BIN, "audit", "--kubeconfig", kc, "-o", "json"],
        # The boot images alone (gather_subset: min): no stubs, certificate or autoscalers.
        ("ours", "audit_min"): [BIN, "audit", "--gather", "min", "--kubeconfig", kc, "-o", "json"],
        # Read-only check mode, as the table was measured; the server dry run (one dry-run
        # PATCH per change, as kubernetes.core's check mode sends) is bench/server-dry-run.sh.
        ("ours", "update"): [BIN, "machineset_bootimage", "--check", "--args",
                             json.dumps({"kubeconfig": kc, "server_dry_run": False})],
        ("k8s_core", "audit"): pb + ["-e", "mode=audit"],
        ("k8s_core", "update"): pb + ["-e", "mode=update", "--check"],
        ("kubectl_jq", "audit"): [os.path.join(ROOT, "bench/kubectl-jq-audit.sh"), kc],
    }.get((tool, job))


def run(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({p.returncode}): {p.stdout[-2000:]} {p.stderr[-2000:]}")
    return dt, p.stdout


def rss_kb(cmd):
    f = os.path.join(WORK, "rss")
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f] + cmd, env=ENV,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return int(open(f).read().split()[-1])


def start(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV)
    url = p.stdout.readline().strip()
    assert url.startswith("http"), url
    return p, url


def kubeconfig(path, url):
    text = open(os.path.join(WORK, "kc-base")).read()
    import re
    with open(path, "w") as f:
        f.write(re.sub(r"server: \S+", f"server: {url}", text))


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


def bench_n(n):
    dump = os.path.join(WORK, f"d{n}")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/gen.py"), str(n), dump], check=True)
    base = os.path.join(WORK, "kc-base")
    srv = subprocess.Popen([SRV, "--load", dump, "--kubeconfig-out", base], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    url = srv.stdout.readline().strip()
    kc = os.path.join(WORK, f"kc{n}")
    kubeconfig(kc, url)
    reqlog = os.path.join(WORK, f"requests-{n}.log")
    proxy, purl = start([sys.executable, os.path.join(ROOT, "bench/countproxy.py"), url, reqlog])
    kcp = os.path.join(WORK, f"kc{n}-proxy")
    kubeconfig(kcp, purl)
    rows = []
    try:
        for tool in ("ours", "kubectl_jq", "k8s_core"):
            for job in ("audit", "audit_min", "update"):
                cmd = commands(tool, job, kc)
                if cmd is None:
                    continue
                pcmd = commands(tool, job, kcp)
                if tool == "k8s_core" and n >= 1000:
                    # Minutes per run: SLOW_REPS runs, each through the counting proxy and
                    # /usr/bin/time at once (the proxy adds well under 1 ms per request).
                    reps = SLOW_REPS
                    log(f"N={n} {tool} {job}: {reps} combined run(s), load {loadavg()}")
                    times, rsss = [], []
                    for _ in range(reps):
                        open(reqlog, "w").close()
                        t = time.perf_counter()
                        rsss.append(rss_kb(pcmd))
                        times.append(time.perf_counter() - t)
                    reqs = [l.split() for l in open(reqlog) if l.strip()]
                    rss = max(rsss)
                else:
                    reps = REPS
                    log(f"N={n} {tool} {job}: warm-up + {reps} runs, load {loadavg()}")
                    run(cmd)  # warm-up (discovery caches of kubectl and the kubernetes client)
                    times = [run(cmd)[0] for _ in range(reps)]
                    # Requests: one run through the counting proxy (warmed up there too).
                    run(pcmd)
                    open(reqlog, "w").close()
                    run(pcmd)
                    reqs = [l.split() for l in open(reqlog) if l.strip()]
                    rss = rss_kb(cmd)
                rows.append({"n": n, "tool": tool, "job": job, "reps": reps,
                             "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
                             "times_s": times, "requests": len(reqs),
                             "requests_by_method": {m: sum(1 for r in reqs if r[0] == m) for m in sorted({r[0] for r in reqs})},
                             "request_lines": [" ".join(r) for r in reqs] if len(reqs) <= 40 else None,
                             "peak_rss_kb": rss, "load": loadavg()})
                log("   ", {k: rows[-1][k] for k in ("median_s", "requests", "peak_rss_kb")})
    finally:
        proxy.terminate(); srv.terminate(); proxy.wait(); srv.wait()
    return rows


def ansible_overhead():
    """20 × ansible.builtin.ping vs 20 × ocp.bootimage.bootimage_info (dump) in one play."""
    galaxy = os.path.join(ROOT, "target/ansible/venv-latest/bin/ansible-galaxy")
    playbook_bin = os.path.join(ROOT, "target/ansible/venv-latest/bin/ansible-playbook")
    cdir = os.path.join(WORK, "collection")
    shutil.rmtree(cdir, ignore_errors=True)
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts/build-collection.sh"), "--out", os.path.join(cdir, "build"),
                        "--binary", BIN, "--ansible-galaxy", galaxy], env=ENV, capture_output=True, text=True, check=True)
    tarball = [l for l in p.stdout.splitlines() if l.strip()][-1].strip()
    subprocess.run([galaxy, "collection", "install", "--force", "-p", os.path.join(cdir, "collections"), tarball],
                   env=ENV, capture_output=True, check=True)
    env = dict(ENV, ANSIBLE_COLLECTIONS_PATH=os.path.join(cdir, "collections"), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(ROOT, "target/ansible/venv-latest/bin/python"))
    dump = os.path.join(ROOT, "examples/cluster-dump")
    res = {}
    for name, task in (("ping", "ansible.builtin.ping: {}"),
                       ("bootimage_info", f"ocp.bootimage.bootimage_info: {{dump_dir: '{dump}'}}")):
        pb = os.path.join(cdir, f"{name}.yml")
        with open(pb, "w") as f:
            f.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n")
            for i in range(20):
                f.write(f"    - name: t{i}\n      {task}\n")
        cmd = [playbook_bin, pb]
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        ts = []
        for _ in range(REPS):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            ts.append(time.perf_counter() - t)
        res[name] = {"times_s": ts, "median_s": statistics.median(ts)}
    res["per_task_overhead_s"] = (res["bootimage_info"]["median_s"] - res["ping"]["median_s"]) / 20
    res["ansible_core"] = subprocess.run([playbook_bin, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return res


def svg(rows, path):
    import math
    series = {("ours", "audit"): ("#1f77b4", "ocp-bootimage audit"),
              ("ours", "audit_min"): ("#9467bd", "ocp-bootimage audit --gather min"),
              ("ours", "update"): ("#1f77b4", "ocp-bootimage update --check"),
              ("kubectl_jq", "audit"): ("#2ca02c", "kubectl + jq audit"),
              ("k8s_core", "audit"): ("#d62728", "kubernetes.core naive audit"),
              ("k8s_core", "update"): ("#d62728", "k8s.core naive update --check")}
    W, H, L, R, T, B = 720, 440, 70, 230, 30, 50
    ns = sorted({r["n"] for r in rows})
    ys = [r["median_s"] for r in rows]
    ylo, yhi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    xlo, xhi = math.log10(ns[0]), math.log10(ns[-1])
    X = lambda n: L + (math.log10(n) - xlo) / max(xhi - xlo, 1e-9) * (W - L - R)
    Y = lambda s: H - B - (math.log10(s) - ylo) / (yhi - ylo) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18" font-size="14">Wall time vs number of MachineSets (median, log-log)</text>']
    for e in range(ylo, yhi + 1):
        y = Y(10 ** e)
        o.append(f'<line x1="{L}" x2="{W-R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L-6}" y="{y+4:.1f}" text-anchor="end">{10**e:g} s</text>')
    for n in ns:
        o.append(f'<line x1="{X(n):.1f}" x2="{X(n):.1f}" y1="{T}" y2="{H-B}" stroke="#ddd"/>')
        o.append(f'<text x="{X(n):.1f}" y="{H-B+16}" text-anchor="middle">{n}</text>')
    o.append(f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">MachineSets (N)</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{W-L-R}" height="{H-T-B}" fill="none" stroke="#333"/>')
    for i, ((tool, job), (color, label)) in enumerate(series.items()):
        pts = sorted((r["n"], r["median_s"]) for r in rows if r["tool"] == tool and r["job"] == job)
        if not pts:
            continue
        dash = {"update": ' stroke-dasharray="6,4"', "audit_min": ' stroke-dasharray="2,3"'}.get(job, "")
        o.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="' +
                 " ".join(f"{X(n):.1f},{Y(s):.1f}" for n, s in pts) + '"/>')
        for n, s in pts:
            o.append(f'<circle cx="{X(n):.1f}" cy="{Y(s):.1f}" r="3" fill="{color}"/>')
        ly = T + 14 + i * 20
        o.append(f'<line x1="{W-R+12}" x2="{W-R+40}" y1="{ly-4}" y2="{ly-4}" stroke="{color}" stroke-width="2"{dash}/>')
        o.append(f'<text x="{W-R+46}" y="{ly}">{label}</text>')
    o.append("</svg>")
    open(path, "w").write("\n".join(o) + "\n")


def table(rows, overhead):
    lines = ["| N | tool | job | median wall | min–max | runs | API requests | peak RSS (MiB) |",
             "|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['tool']} | {r['job']} | {r['median_s']*1000:.1f} ms | "
                     f"{r['min_s']*1000:.0f}–{r['max_s']*1000:.0f} ms | {r['reps']} | {r['requests']} | {r['peak_rss_kb']/1024:.1f} |")
    lines += ["", "| N | job | kubernetes.core ÷ ours | kubectl+jq ÷ ours |", "|---:|---|---:|---:|"]
    get = {(r["n"], r["tool"], r["job"]): r["median_s"] for r in rows}
    for n in sorted({r["n"] for r in rows}):
        for job in ("audit", "audit_min", "update"):
            o = get.get((n, "ours", job))
            other = "audit" if job == "audit_min" else job
            k = get.get((n, "k8s_core", other)); j = get.get((n, "kubectl_jq", other))
            if o is None or k is None:
                continue
            lines.append(f"| {n} | {job} | {k/o:.0f}× |" + (f" {j/o:.0f}× |" if j else " – |"))
    if overhead:
        lines += ["", f"Ansible per-task overhead ({overhead['ansible_core']}): 20 × ping {overhead['ping']['median_s']:.2f} s, "
                  f"20 × bootimage_info {overhead['bootimage_info']['median_s']:.2f} s → "
                  f"{overhead['per_task_overhead_s']*1000:+.1f} ms per task"]
    return "\n".join(lines) + "\n"


def main():
    jobs = os.environ.get("BENCH_JOBS", "read,write").split(",")
    if "read" in jobs and os.environ.get("BENCH_SERVER", "test") == "test":
        read_jobs()
    if "write" in jobs:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_write
        bench_write.main()


def read_jobs():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(os.path.join(WORK, "home/ansible-tmp"), exist_ok=True)
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
    facts = {"nproc": os.cpu_count(), "cpu": cpu[0] if cpu else "?", "load_start": loadavg(),
             "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "kernel": os.uname().release, "reps": REPS, "slow_reps": SLOW_REPS}
    log("machine:", facts)
    rows = []
    for n in NS:
        rows += bench_n(n)
    overhead = None if os.environ.get("BENCH_SKIP_ANSIBLE_OVERHEAD") else ansible_overhead()
    facts["load_end"] = loadavg()
    json.dump({"machine": facts, "rows": rows, "ansible_overhead": overhead},
              open(os.path.join(OUT, "results.json"), "w"), indent=1)
    md = table(rows, overhead)
    open(os.path.join(OUT, "results.md"), "w").write(md)
    svg(rows, os.path.join(OUT, "time-vs-n.svg"))
    print(md)
    log("machine:", facts)


if __name__ == "__main__":
    main()
