#!/usr/bin/env python3
"""The write benchmark (run by bench/bench.py when BENCH_JOBS has `write`, or alone).

For each N it writes a dump with N AWS x86_64 MachineSets (`bench/gen.py N DIR aws`: every
one of them is swapped), serves it — the in-process test-apiserver (BENCH_SERVER=test, the
default) or a real kube-apiserver + etcd (BENCH_SERVER=real: ../shared/tools/kube-apiserver,
the dump loaded over the API, so objects carry real `managedFields`; BENCH_REAL_KUBECONFIG
uses a running one instead, whose openshift-machine-api MachineSets it replaces) — and measures:

  ours        update_real  ocp-bootimage machineset_bootimage (no check mode: the record
                           Secret, then one PATCH per MachineSet)
              rollback     ocp-bootimage rollback of that run (the run id the update made and
                           reported), whatever the built binary's rollback does (a failure is
                           reported in the row, not fatal; the next run starts from a reset)
  kubectl     update_real  bench/kubectl-patch.sh: one `kubectl patch --type merge` per MachineSet
  raw_patch   update_real  bench/rawpatch.py: one merge PATCH per MachineSet, 16 at a time (the floor)

BENCH_WRITE_TOOLS (default ours,kubectl,raw_patch) chooses the rows, BENCH_BIN another
ocp-bootimage build, BENCH_TAG a suffix for the result files, BENCH_RUN_ID a run id prefix
for the update (default: the tool makes one, as it does for a user).

wall time (median of BENCH_WRITE_REPS runs; the kubectl loop at N >= 1000 BENCH_SLOW_REPS
runs), API requests (one run through bench/countproxy.py), peak RSS (/usr/bin/time %M),
and for ours the rollback record: the Secrets labelled app.kubernetes.io/managed-by=ocp-bootimage
in any namespace (their number and decoded data bytes) after the update and after the
rollback. Every run starts from the dump's state: record Secrets deleted, MachineSets
patched back to their original AMI where a run left another. The kubectl and raw rows use
the targets ours plans (`--check` first), so all three write the same values.

Writes bench/results/results-write-<server>[-<tag>].json and .md.
"""
import json, os, shutil, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubeapi  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench/results")
WORK = os.path.join(ROOT, "target/bench")
BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target/release/ocp-bootimage"))
SRV = os.environ.get("BENCH_SRV", os.path.join(ROOT, "target/release/test-apiserver"))
NS = [int(x) for x in os.environ.get("BENCH_NS", "10,100,1000").split(",")]
REPS = int(os.environ.get("BENCH_WRITE_REPS", "3"))
SLOW_REPS = int(os.environ.get("BENCH_SLOW_REPS", "1"))
SERVER = os.environ.get("BENCH_SERVER", "test")
TOOLS = os.environ.get("BENCH_WRITE_TOOLS", "ours,kubectl,raw_patch").split(",")
# Names the result files (results-write-<server>-<tag>), e.g. to keep a run of another build (BENCH_BIN).
TAG = os.environ.get("BENCH_TAG", "")
# A run id prefix for the update (`<prefix>-<N>-<i>`); default: the id the tool makes.
RUN_ID = os.environ.get("BENCH_RUN_ID")
SHARED = os.environ.get("OCP_BOOTIMAGE_SHARED", os.path.join(ROOT, "../shared"))
KAS = os.path.join(SHARED, "tools/kube-apiserver")
MAPI = "openshift-machine-api"
ENV = dict(os.environ, HOME=os.path.join(WORK, "home"))
for k in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY"):
    ENV.pop(k, None)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


def measured(cmd):
    """Runs `cmd` under /usr/bin/time: (wall s, peak RSS kB, exit code, stdout or, on
    failure, stdout and the end of stderr)."""
    f = os.path.join(WORK, "rss-write")
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f] + cmd, env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    rss = int(open(f).read().split()[-1])
    out = p.stdout.decode(errors="replace")
    return dt, rss, p.returncode, out + ("\n" + p.stderr.decode(errors="replace")[-500:] if p.returncode else "")


def result(text):
    """The module's JSON result, or a failure carrying the end of the output."""
    try:
        return json.JSONDecoder().raw_decode(text.lstrip())[0]
    except ValueError:
        return {"failed": True, "msg": text[-300:]}


def simple_kubeconfig(path, url, token):
    with open(path, "w") as f:
        f.write(f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n"
                f"users:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  context:\n"
                f"    cluster: c\n    user: u\ncurrent-context: x\n")


class Target:
    """A server holding the dump of N MachineSets, its kubeconfig, the counting proxy's."""

    def __init__(self, kc, kc_proxy, reqlog, kube):
        self.kc, self.kcp, self.reqlog, self.kube = kc, kc_proxy, reqlog, kube
        self.originals = kubeapi.images(kube, MAPI)

    def reset(self):
        kubeapi.delete_records(self.kube, MAPI)
        now = kubeapi.images(self.kube, MAPI)
        back = {n: a for n, a in self.originals.items() if now.get(n) != a}
        if back:
            kubeapi.patch_all(self.kube, MAPI, back)

    def requests(self, cmd):
        open(self.reqlog, "w").close()
        out = subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        reqs = [l.split() for l in open(self.reqlog) if l.strip()]
        return reqs, out.decode(errors="replace")

    def restored(self):
        now = kubeapi.images(self.kube, MAPI)
        return sum(1 for n, a in self.originals.items() if now.get(n) == a)


def row(n, tool, job, times, rss, reqs, **extra):
    r = {"n": n, "server": SERVER, "tool": tool, "job": job, "reps": len(times),
         "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "times_s": times,
         "requests": None if reqs is None else len(reqs),
         "requests_by_method": None if reqs is None else
         {m: sum(1 for q in reqs if q[0] == m) for m in sorted({q[0] for q in reqs})},
         "peak_rss_kb": max(rss), "load": loadavg()}
    r.update(extra)
    log("   ", tool, job, {k: r[k] for k in ("median_s", "requests", "peak_rss_kb")},
        {k: v for k, v in extra.items() if k != "errors"} or "", extra.get("errors") or "")
    return r


def ours(n, t):
    # The update makes its own run id (as the tool does by default; its length counts
    # towards the record's size), and the rollback is given the one the update reports.
    def update(kc, i="req"):
        args = {"kubeconfig": kc}
        if RUN_ID:
            args["run_id"] = f"{RUN_ID}-{n}-{i}"
        return [BIN, "machineset_bootimage", "--args", json.dumps(args)]

    def rollback(kc, res):
        args = {"kubeconfig": kc}
        if res.get("run_id"):
            args["run_id"] = res["run_id"]
        return [BIN, "rollback", "--args", json.dumps(args)]

    # Requests: one update and its rollback through the proxy.
    t.reset()
    ureqs, out = t.requests(update(t.kcp))
    rreqs, _ = t.requests(rollback(t.kcp, result(out)))
    ut, urss, rt, rrss, uerr, rerr = [], [], [], [], [], []
    rec = rec_after = (0, 0)
    changed = restored = 0
    for i in range(REPS):
        t.reset()
        dt, rss, rc, out = measured(update(t.kc, i))
        res = result(out)
        changed = sum(1 for m in res.get("machinesets") or [] if m.get("changed"))
        if rc or res.get("failed"):
            uerr.append(res.get("msg", "")[:300])
        ut.append(dt), urss.append(rss)
        rec = kubeapi.record_bytes(t.kube)
        dt, rss, rc, out = measured(rollback(t.kc, res))
        res = result(out)
        if rc or res.get("failed"):
            rerr.append(res.get("msg", "")[:300])
        rt.append(dt), rrss.append(rss)
        rec_after = kubeapi.record_bytes(t.kube)
        restored = t.restored()
    t.reset()
    return [row(n, "ours", "update_real", ut, urss, ureqs, changed=changed, record_secrets=rec[0],
                record_bytes=rec[1], errors=uerr[:3]),
            row(n, "ours", "rollback", rt, rrss, rreqs, restored=restored, record_secrets=rec_after[0],
                record_bytes=rec_after[1], errors=rerr[:3])]


def others(n, t, targets):
    patches = os.path.join(WORK, f"patches-{n}.txt")
    with open(patches, "w") as f:
        f.writelines(f"{name} {ami}\n" for name, ami in sorted(targets.items()))
    rows = []
    kubectl = shutil.which("kubectl")
    tools = []
    if "raw_patch" in TOOLS:
        tools.append(("raw_patch", lambda kc: [sys.executable, os.path.join(ROOT, "bench/rawpatch.py"), kc, MAPI, patches]))
    if "kubectl" in TOOLS and kubectl:
        tools.append(("kubectl", lambda kc: [os.path.join(ROOT, "bench/kubectl-patch.sh"), kc, MAPI, patches]))
    elif "kubectl" in TOOLS:
        log("    kubectl: not found, its row is left out")
    for tool, cmd in tools:
        slow = tool == "kubectl" and n >= 1000
        times, rsss, errors = [], [], []
        reqs = None
        if not slow:
            t.reset()
            reqs, _ = t.requests(cmd(t.kcp))
        for _ in range(SLOW_REPS if slow else REPS):
            t.reset()
            if slow:  # minutes per run: through the proxy and /usr/bin/time at once
                open(t.reqlog, "w").close()
            dt, rss, rc, out = measured(cmd(t.kcp if slow else t.kc))
            if slow:
                reqs = [l.split() for l in open(t.reqlog) if l.strip()]
            if rc:
                errors.append(out[-300:])
            now = kubeapi.images(t.kube, MAPI)
            if any(now.get(k) != v for k, v in targets.items()):
                errors.append("not every MachineSet has its target AMI")
            times.append(dt), rsss.append(rss)
        rows.append(row(n, tool, "update_real", times, rsss, reqs, errors=errors[:3]))
    t.reset()
    return rows


def targets_of(t):
    """The AMI ours would write to each MachineSet (a check-mode run)."""
    cmd = [BIN, "machineset_bootimage", "--check", "--args", json.dumps({"kubeconfig": t.kc})]
    res = result(subprocess.run(cmd, env=ENV, stdout=subprocess.PIPE).stdout.decode())
    return {m["name"]: m["after"] for m in res.get("machinesets") or [] if m.get("changed")}


def proxy(url, reqlog, kubeconfig=None):
    argv = [sys.executable, os.path.join(ROOT, "bench/countproxy.py"), url, reqlog] + ([kubeconfig] if kubeconfig else [])
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p, p.stdout.readline().strip()


def bench_n(n, real):
    dump = os.path.join(WORK, f"w{n}")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/gen.py"), str(n), dump, "aws"], check=True)
    reqlog = os.path.join(WORK, f"requests-write-{n}.log")
    procs = []
    try:
        if real:
            kc = real
            kube = kubeapi.Kube(kc)
            kubeapi.delete_machinesets(kube, MAPI)
            kubeapi.delete_records(kube, MAPI)
            # Where records go since the v2 record store (deploy/rbac.yaml creates it).
            kubeapi.ensure_namespace(kube, "ocp-bootimage")
            kubeapi.load_dump(kube, dump)
            pr, purl = proxy(kube.url.geturl(), reqlog, kc)
        else:
            kc = os.path.join(WORK, f"kcw{n}")
            srv = subprocess.Popen([SRV, "--load", dump, "--kubeconfig-out", kc], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
            procs.append(srv)
            url = srv.stdout.readline().strip()
            kube = kubeapi.Kube(kc)
            pr, purl = proxy(url, reqlog)
        procs.append(pr)
        kcp = os.path.join(WORK, f"kcw{n}-proxy")
        simple_kubeconfig(kcp, purl, "test-token")
        t = Target(kc, kcp, reqlog, kube)
        log(f"N={n} ({SERVER} server): load {loadavg()}")
        targets = targets_of(t)
        return (ours(n, t) if "ours" in TOOLS else []) + others(n, t, targets)
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def start_real():
    if not os.access(os.path.join(KAS, "start.sh"), os.X_OK):
        sys.exit(f"bench_write: BENCH_SERVER=real needs {KAS}/start.sh (set OCP_BOOTIMAGE_SHARED)")
    d = os.path.join(WORK, "kas")
    env = dict(ENV, KUBE_APISERVER_PORT="auto", ETCD_CLIENT_PORT="auto", ETCD_PEER_PORT="auto",
               KUBE_CRD_DIR=os.path.join(ROOT, "tests/fixtures/crds"))
    subprocess.run([os.path.join(KAS, "start.sh"), d], env=env, check=True, stdout=subprocess.DEVNULL)
    return d


def table(rows):
    lines = ["| N | server | tool | job | median wall | min–max | runs | API requests | peak RSS (MiB) | record | note |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        rec = f"{r['record_bytes']:,} B in {r['record_secrets']}" if "record_bytes" in r else "–"
        note = "; ".join(([f"restored {r['restored']}/{r['n']}"] if "restored" in r else []) +
                         [e[:160] for e in r.get("errors") or []][:1])
        reqs = "–" if r["requests"] is None else str(r["requests"])
        lines.append(f"| {r['n']} | {r['server']} | {r['tool']} | {r['job']} | {r['median_s']*1000:.0f} ms | "
                     f"{r['min_s']*1000:.0f}–{r['max_s']*1000:.0f} ms | {r['reps']} | {reqs} | "
                     f"{r['peak_rss_kb']/1024:.1f} | {rec} | {note} |")
    return "\n".join(lines) + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(os.path.join(WORK, "home"), exist_ok=True)
    facts = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "nproc": os.cpu_count(),
             "load_start": loadavg(), "server": SERVER, "reps": REPS, "slow_reps": SLOW_REPS,
             "bin": BIN, "tag": TAG, "run_id": RUN_ID,
             "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True).stdout.strip()}
    given = os.environ.get("BENCH_REAL_KUBECONFIG")
    kas_dir = start_real() if SERVER == "real" and not given else None
    real = given or (os.path.join(kas_dir, "kubeconfig") if kas_dir else None)
    rows = []
    try:
        for n in NS:
            rows += bench_n(n, real)
    finally:
        if kas_dir:
            subprocess.run([os.path.join(KAS, "stop.sh"), kas_dir], stdout=subprocess.DEVNULL)
    facts["load_end"] = loadavg()
    base = os.path.join(OUT, f"results-write-{SERVER}" + (f"-{TAG}" if TAG else ""))
    json.dump({"machine": facts, "rows": rows}, open(base + ".json", "w"), indent=1)
    md = table(rows)
    open(base + ".md", "w").write(md)
    print(md)
    log("machine:", facts)


if __name__ == "__main__":
    main()
