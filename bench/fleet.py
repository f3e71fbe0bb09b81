#!/usr/bin/env python3
"""The fleet audit benchmark: C clusters x M MachineSets audited in one CLI run, against
the slowest single-cluster audit of the same clusters.

Usage: fleet.py [--clusters 100] [--machinesets 50] [--latency 0,50] [--reps 3]
                [--concurrency 16,100] [--cpus all] [--bin PATH] [--out bench/results/fleet]

For each latency (milliseconds every request of every test API server waits before it is
answered: a cluster far away; 0 is loopback), it starts C `test-apiserver` processes, each
loaded with the same generated dump of M MachineSets (bench/gen.py: real fixture shapes of
five platforms), then times:

- every cluster audited alone (`ocp-bootimage audit --kubeconfig KC -o json`): the slowest
  and the median;
- the whole fleet in one run (`audit --kubeconfig c1=KC1 ... -o json`), per concurrency
  and per --cpus (`all`, or a count: the client is run under `taskset -c 0..n-1`, and the
  fleet audit runs one thread per core it may use), median of --reps runs, with the run's
  peak RSS (GNU time);
- the peak RSS of fleets of 1, 10 and C clusters (memory against fleet size).

--bin names the ocp-bootimage binary to time (default target/release/ocp-bootimage, the
glibc build; the static musl build is the one users run).

Writes OUT.json (every measurement) and OUT.md (the tables). Needs release builds of
ocp-bootimage and test-apiserver (bench/fleet.sh builds them), PyYAML (bench/gen.py) and
GNU time (/usr/bin/time).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/ocp-bootimage")
SRV = os.path.join(ROOT, "target/release/test-apiserver")


def run(cmd):
    """Runs cmd; returns (seconds, peak RSS in MiB, exit code, stdout). The peak RSS is
    GNU time's (`%M`): a child forked from this Python process would count the parent's
    pages until it execs."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-o", rss.name, "-f", "%M %U %S"] + cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           env={**os.environ, "KUBECONFIG": "/nonexistent"})
        took = time.perf_counter() - t
        kib, user, system = rss.read().split()[-3:]
    run.cpu = float(user) + float(system)
    return took, int(kib) / 1024, p.returncode, p.stdout


def start_servers(n, dump, latency, tmp):
    procs, kcs = [], []
    for i in range(n):
        kc = os.path.join(tmp, f"kc-{latency}-{i}")
        cmd = [SRV, "--load", dump, "--kubeconfig-out", kc]
        if latency:
            cmd += ["--latency", str(latency)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        kcs.append(kc)
    for p in procs:
        p.stdout.readline()  # the URL: loaded and listening
    return procs, kcs


def fleet_cmd(kcs, concurrency, cpus="all"):
    pin = [] if cpus == "all" else ["taskset", "-c", f"0-{int(cpus) - 1}"]
    args = pin + [BIN, "audit", "-o", "json", "--concurrency", str(concurrency), "--timeout", "600"]
    return args + [f"--kubeconfig=c{i}={kc}" for i, kc in enumerate(kcs)]


def measure(latency, args, dump, tmp):
    procs, kcs = start_servers(args.clusters, dump, latency, tmp)
    try:
        run([BIN, "audit", "--kubeconfig", kcs[0], "-o", "json"])  # warm-up
        singles = [run([BIN, "audit", "--kubeconfig", kc, "-o", "json"]) for kc in kcs]
        for s in singles:
            assert s[2] in (0, 1), f"single audit exited {s[2]}"
        single_times = [s[0] for s in singles]
        row = {
            "latency_ms": latency,
            "single_slowest_s": max(single_times),
            "single_median_s": statistics.median(single_times),
            "single_rss_mib": max(s[1] for s in singles),
            "fleet": [],
            "rss_by_size": {},
        }
        for c, cpus in [(c, n) for c in args.concurrency for n in args.cpus]:
            runs, cpu = [], []
            for _ in range(args.reps):
                runs.append(run(fleet_cmd(kcs, c, cpus)))
                cpu.append(run.cpu)
            for r in runs:
                report = json.loads(r[3])
                assert r[2] in (0, 1), f"fleet audit exited {r[2]}"
                assert report["summary"]["clusters"] == args.clusters
                assert report["summary"]["not_audited"] == 0, report["summary"]
                assert report["summary"]["machinesets"] == args.clusters * args.machinesets
            t = statistics.median(r[0] for r in runs)
            row["fleet"].append({
                "concurrency": c,
                "cpus": cpus,
                "median_s": t,
                "runs_s": [r[0] for r in runs],
                "rss_mib": max(r[1] for r in runs),
                "client_cpu_s": statistics.median(cpu),
                "vs_slowest_single": t / row["single_slowest_s"],
            })
        top = max(args.concurrency)
        for size in sorted({1, 10, args.clusters}):
            row["rss_by_size"][size] = run(fleet_cmd(kcs[:size], top))[1]
        return row
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def markdown(rows, args, load):
    lines = [
        f"Fleet audit: {args.clusters} clusters x {args.machinesets} MachineSets, "
        f"{os.path.relpath(BIN, ROOT)} "
        f"(load average {load[0]:.2f} at the start, {load[1]:.2f} at the end)",
        "",
        "| latency/request | slowest single | median single | concurrency | client cores | "
        "fleet (median) | fleet / slowest single | fleet CPU (ocp-bootimage) | fleet peak RSS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for f in r["fleet"]:
            lines.append(
                f"| {r['latency_ms']} ms | {r['single_slowest_s']:.3f} s | {r['single_median_s']:.3f} s "
                f"| {f['concurrency']} | {f.get('cpus', 'all')} | {f['median_s']:.3f} s | {f['vs_slowest_single']:.1f}x "
                f"| {f['client_cpu_s']:.2f} s | {f['rss_mib']:.0f} MiB |")
    lines += ["", "| latency/request | peak RSS: 1 cluster | 10 clusters | "
              f"{args.clusters} clusters |", "|---|---|---|---|"]
    for r in rows:
        sizes = sorted(r["rss_by_size"])
        cells = " | ".join(f"{r['rss_by_size'][s]:.0f} MiB" for s in sizes)
        lines.append(f"| {r['latency_ms']} ms | {cells} |")
    return "\n".join(lines) + "\n"


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--machinesets", type=int, default=50)
    ap.add_argument("--latency", default="0,50")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", default="16,100")
    ap.add_argument("--bin", default=BIN, help="the ocp-bootimage binary to time")
    ap.add_argument("--cpus", default="all",
                    help="client cores per fleet run, comma-separated: all or a count")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/fleet"))
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.cpus = args.cpus.split(",")
    BIN = os.path.abspath(args.bin)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "dump")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/gen.py"),
                        str(args.machinesets), dump], check=True, stdout=subprocess.DEVNULL)
        rows = [measure(int(l), args, dump, tmp) for l in args.latency.split(",")]
    load = (load0, os.getloadavg()[0])
    with open(args.out + ".json", "w") as f:
        json.dump({"clusters": args.clusters, "machinesets": args.machinesets,
                   "load": load, "rows": rows}, f, indent=1)
    md = markdown(rows, args, load)
    with open(args.out + ".md", "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
