#!/usr/bin/env python3
"""Writes a cluster dump with N MachineSets for the benchmarks.

Usage: gen.py N OUTDIR [PLATFORMS]

OUTDIR gets every file of examples/cluster-dump except its MachineSets (ClusterVersion,
Infrastructure, MachineConfiguration, ClusterAutoscaler, MachineAutoscalers, Machines,
Nodes, secrets, the coreos-bootimages ConfigMap, MCD pods and logs) plus one file
`machinesets.json` with N MachineSets: real fixture shapes (the dump's own AWS x86_64 and
arm64 MachineSets and tests/fixtures/machinesets/{aws,aws-arm64,gcp,azure,vsphere}) taken
round-robin by platform and renamed `bench-<platform>-<i>`. PLATFORMS (comma-separated,
default `aws,arm64,gcp,azure,vsphere`) limits the shapes, e.g. `aws` for N AWS x86_64
MachineSets, every one of which the update changes. Also writes OUTDIR.names (one name a line).
The dump's spec 2.2.0 worker stub is written migrated to 3.1.0 (as the procedure's step 2
leaves it), so the check-mode update plans every swap instead of skipping MachineSets
whose stub a new boot image could not read.
"""
import base64, copy, json, os, shutil, sys
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMP = os.path.join(ROOT, "examples/cluster-dump")
MS_FILE = "namespaces/openshift-machine-api/machine.openshift.io/machinesets.yaml"
FIXTURES = [
    ("aws", "aws/openshift-release-build01-9hdwj-worker-us-east-1a.yaml"),
    ("arm64", "aws-arm64/openshift-release-build09-worker-aarch64.yaml"),
    ("gcp", "gcp/insights-sample-ci-ln-fyvthbt-f76d1-nl2fh-worker-b.json"),
    ("gcp", "gcp/openshift-release-build02-build0-gstfj-w-b.yaml"),
    ("azure", "azure/installer-generated-communityus-worker-machineset-0.yaml"),
    ("vsphere", "vsphere/installer-generated-4.9-ocp-cl02-worker-machineset-0.yaml"),
]
SET_LABEL = "machine.openshift.io/cluster-api-machineset"


def docs(path):
    with open(path) as f:
        text = f.read()
    out = []
    for d in yaml.safe_load_all(text):
        if not d:
            continue
        if d.get("kind") == "List":
            out.extend(d.get("items") or [])
        else:
            out.append(d)
    return [d for d in out if d.get("kind") == "MachineSet"]


def shapes():
    res = []
    for ms in docs(os.path.join(DUMP, MS_FILE)):
        arch = "arm64" if "aarch64" in ms["metadata"]["name"] else "aws"
        res.append((arch, ms))
    for plat, rel in FIXTURES:
        for ms in docs(os.path.join(ROOT, "tests/fixtures/machinesets", rel)):
            res.append((plat, ms))
    return res


def renamed(ms, name):
    ms = copy.deepcopy(ms)
    md = ms["metadata"]
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "selfLink",
              "generation", "ownerReferences", "finalizers"):
        md.pop(k, None)
    md["name"] = name
    md["namespace"] = "openshift-machine-api"
    spec = ms.setdefault("spec", {})
    sel = spec.setdefault("selector", {}).setdefault("matchLabels", {})
    sel[SET_LABEL] = name
    tl = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    tl[SET_LABEL] = name
    # Every shape reads the dump's own stub Ignition secret.
    ps = (spec["template"].get("spec") or {}).get("providerSpec", {}).get("value") or {}
    if isinstance(ps.get("userDataSecret"), dict):
        ps["userDataSecret"]["name"] = "worker-user-data"
    return ms


def migrate_stub(path):
    """Step 2 of the procedure on one stub secret file: version 3.1.0, append -> merge."""
    with open(path) as f:
        secret = yaml.safe_load(f)
    ign = json.loads(base64.b64decode(secret["data"]["userData"]))
    if not ign["ignition"]["version"].startswith("2."):
        return
    ign["ignition"]["version"] = "3.1.0"
    cfg = ign["ignition"].get("config", {})
    if "append" in cfg:
        cfg["merge"] = cfg.pop("append")
    secret["data"]["userData"] = base64.b64encode(json.dumps(ign, separators=(",", ":")).encode()).decode()
    with open(path, "w") as f:
        yaml.safe_dump(secret, f)


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    plats = sys.argv[3].split(",") if len(sys.argv) > 3 else ["aws", "arm64", "gcp", "azure", "vsphere"]
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(DUMP, out, ignore=shutil.ignore_patterns("README.md"))
    os.remove(os.path.join(out, MS_FILE))
    groups = {}
    for plat, ms in shapes():
        groups.setdefault(plat, []).append(ms)
    items, names = [], []
    for i in range(n):
        plat = plats[i % len(plats)]
        ms = groups[plat][(i // len(plats)) % len(groups[plat])]
        name = f"bench-{plat}-{i:04d}"
        items.append(renamed(ms, name))
        names.append(name)
    path = os.path.join(out, "namespaces/openshift-machine-api/machine.openshift.io/machinesets.json")
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
    # The dump's MachineAutoscalers scale the first three generated MachineSets instead.
    mad = os.path.join(out, "namespaces/openshift-machine-api/autoscaling.openshift.io/machineautoscalers")
    for j, fn in enumerate(sorted(os.listdir(mad))):
        p = os.path.join(mad, fn)
        with open(p) as f:
            ma = json.load(f)
        ma["spec"]["scaleTargetRef"]["name"] = names[j % n]
        with open(p, "w") as f:
            json.dump(ma, f)
    migrate_stub(os.path.join(out, "namespaces/openshift-machine-api/core/secrets/worker-user-data.yaml"))
    with open(out.rstrip("/") + ".names", "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
