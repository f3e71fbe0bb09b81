#!/usr/bin/env python3
"""Regenerates examples/cluster-dump/ from the real fixtures in tests/fixtures/.

The dump is an example cluster assembled from real public objects (this script
also writes examples/cluster-dump/README.md, saying what comes from where). Only
names, versions and the ConfigMap wrapper are adapted so the objects fit one
cluster. The Machines, Nodes, machine-config-daemon pods and their logs (for
`--nodes`) are made for this example in the shapes of the real objects and of the
real MCD log lines in tests/fixtures/mcd-logs/, with builds the streams know.
Run from the repository root: python3 examples/make-cluster-dump.py
"""
import base64
import hashlib
import json
import os
import shutil

import yaml  # PyYAML

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "examples", "cluster-dump")


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def write(rel, obj, fmt="yaml"):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        if fmt == "json":
            json.dump(obj, f, indent=2)
            f.write("\n")
        else:
            yaml.safe_dump(obj, f, sort_keys=False, default_flow_style=False)


shutil.rmtree(OUT, ignore_errors=True)

# Cluster-scoped: a 4.18 AWS cluster (shapes of the real resourcewatch objects).
cv = load_all(os.path.join(FIX, "cluster/resourcewatch-sno-v2-clusterversion.yaml"))[0]
cv["metadata"].pop("managedFields", None)
version = "4.18.1"
cv["status"]["desired"]["version"] = version
cv["status"]["history"][0]["version"] = version
cv["spec"]["channel"] = "stable-4.18"
cv["status"]["conditions"] = [c for c in cv["status"]["conditions"] if c["type"] != "ReleaseAccepted"] + [
    {"type": "ReleaseAccepted", "status": "True", "reason": "PayloadLoaded",
     "lastTransitionTime": "2025-02-01T10:00:00Z",
     "message": 'Payload loaded version="%s" image="quay.io/openshift-release-dev/ocp-release@sha256:0000" architecture="amd64"' % version}]
write("cluster-scoped-resources/config.openshift.io/clusterversions/version.yaml", cv)

infra = load_all(os.path.join(FIX, "cluster/resourcewatch-3nodes-gcp-infrastructure.yaml"))[0]
infra["metadata"].pop("managedFields", None)
infra["spec"]["platformSpec"] = {"type": "AWS", "aws": {}}
infra["status"]["platform"] = "AWS"
infra["status"]["platformStatus"] = {"type": "AWS", "aws": {"region": "us-east-2"}}
infra["status"]["infrastructureName"] = "build09-kcxpl"
write("cluster-scoped-resources/config.openshift.io/infrastructures/cluster.yaml", infra)

ca = load_all(os.path.join(FIX, "autoscaler/clusterautoscaler-example.yaml"))[0]
write("cluster-scoped-resources/autoscaling.openshift.io/clusterautoscalers/default.yaml", ca)

mc = load_all(os.path.join(FIX, "machineconfiguration/mco-template-managedbootimages-none.yaml"))[0]["objects"][0]
mc["metadata"].pop("namespace", None)
write("cluster-scoped-resources/operator.openshift.io/machineconfigurations/cluster.yaml", mc)

# MachineSets: the real build09 aarch64 sets (with their MachineAutoscalers) and build01's x86_64 set,
# as one `kind: List` the way `oc get machinesets -o yaml` writes it.
docs = load_all(os.path.join(FIX, "machinesets/aws-arm64/openshift-release-build09-worker-aarch64.yaml"))
sets = [d for d in docs if d["kind"] == "MachineSet"]
mas = [d for d in docs if d["kind"] == "MachineAutoscaler"]
b01 = load_all(os.path.join(FIX, "machinesets/aws/openshift-release-build01-9hdwj-worker-us-east-1a.yaml"))[0]
b01["metadata"]["name"] = "build09-kcxpl-worker-us-east-1a"
b01["metadata"]["labels"]["machine.openshift.io/cluster-api-cluster"] = "build09-kcxpl"
# Its Machines carry the template's labels, which the selector matches: renamed too.
for labels in (b01["spec"]["selector"]["matchLabels"], b01["spec"]["template"]["metadata"]["labels"]):
    labels["machine.openshift.io/cluster-api-cluster"] = "build09-kcxpl"
    labels["machine.openshift.io/cluster-api-machineset"] = "build09-kcxpl-worker-us-east-1a"
b01["spec"]["replicas"] = 2
for s in sets + [b01]:
    s["metadata"].setdefault("resourceVersion", "1000")
    # What `oc get` shows: the API server defaults spec.replicas to 1 (MachineSet CRD).
    s["spec"].setdefault("replicas", 1)
write("namespaces/openshift-machine-api/machine.openshift.io/machinesets.yaml",
      {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": sets + [b01]})
for m in mas:
    write("namespaces/openshift-machine-api/autoscaling.openshift.io/machineautoscalers/%s.json" % m["metadata"]["name"], m, "json")

# User-data secrets: the real installer-generated spec 2.2.0 worker stub and a 3.2.0 master stub.
for src, name in [("ignition/secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml", "worker-user-data"),
                  ("ignition/secrets/vsphere-4.9-spec3.2.0-master-user-data-secret.yaml", "master-user-data")]:
    sec = load_all(os.path.join(FIX, src))[0]
    sec["metadata"]["name"] = name
    write("namespaces/openshift-machine-api/core/secrets/%s.yaml" % name, sec)

# MCS serving certificate (the real one that the worker stub's CA signed; no key is shipped).
with open(os.path.join(FIX, "certs/azure-communityus-machine-config-server-tls.crt"), "rb") as f:
    crt = f.read()
write("namespaces/openshift-machine-config-operator/core/secrets/machine-config-server-tls.yaml", {
    "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
    "metadata": {"name": "machine-config-server-tls", "namespace": "openshift-machine-config-operator"},
    "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": ""}})

# The stream ConfigMap: the real 4.18 release-branch stream, wrapped as the cluster holds it.
with open(os.path.join(FIX, "stream/rhcos-4.18.json")) as f:
    stream = f.read()
write("namespaces/openshift-machine-config-operator/core/configmaps/coreos-bootimages.yaml", {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "coreos-bootimages", "namespace": "openshift-machine-config-operator"},
    "data": {"releaseVersion": version, "stream": stream}})

# --- Nodes (for `--nodes`): per MachineSet its Machines, their Nodes, the machine-config-daemon
# pod on each node and that pod's log, next to the pod objects as <pod>.log.
MACHINE = load_all(os.path.join(FIX, "machines/aws/insights-sample-dev-rhrmo-dev-26-01-2-tk6g8-worker-us-east-2a-4g2rj.json"))[0]
MCD_IMAGE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "0" * 64


def klog(ts, pid, where, msg):
    """A klog line as the MCD writes it: I<MMDD> <hh:mm:ss.uuuuuu> <pid> <file:line>] <msg>."""
    return "I%s %s %7d %s] %s" % (ts[5:7] + ts[8:10], ts[11:19] + ".104562", pid, where, msg)


def aleph_fields(ts, build, imgid, mtime):
    """The single-line form (tests/fixtures/mcd-logs/mco-pr4083-comment-excerpt.log)."""
    return klog(ts, 2281, "coreos.go:54", "CoreOS aleph version: mtime=%s build=%s imgid=%s" % (mtime, build, imgid)) + "\n"


def aleph_json(ts, build, imgid, mtime):
    """The JSON form (tests/fixtures/mcd-logs/mco-pr4034-comment-excerpt.log): Go's
    json.MarshalIndent of the aleph file, keys sorted, three-space indent."""
    blob = json.dumps({"build": build, "imgid": imgid}, indent=3, sort_keys=True)
    return klog(ts, 2281, "coreos.go:54", "CoreOS aleph version: mtime=%s" % mtime) + "\n" + blob + "\n"


def ignition_line(ts, when):
    return klog(ts, 2281, "coreos.go:69", "Ignition provisioning: time=%s" % when) + "\n"


# (MachineSet, machine suffix, created, node IP, zone, arch, MCD pod, log) — the youngest Machine
# of each MachineSet is the one whose node the audit reads.
NODES = [
    ("build09-kcxpl-worker-aarch64-us-east-2a", "7xk2p", "2025-02-03T09:10:00Z", "10-0-12-34", "us-east-2a", "arm64",
     "machine-config-daemon-4hx9z",
     aleph_json("2025-02-03T09:14:05Z", "418.94.202501221327-0", "rhcos-418.94.202501221327-0-aws.aarch64.vmdk",
                "2025-01-22 13:58:41.2 +0000 UTC") + ignition_line("2025-02-03T09:14:05Z", "2025-02-03T09:11:40Z")),
    # Booted in November 2024, before the MachineSet's image was changed to 418.94.202501221327-0:
    # it shows as older than the image (expected). Saved with `oc logs`, hence the preamble.
    ("build09-kcxpl-worker-aarch64-us-east-2b", "m8q4d", "2024-11-05T14:20:00Z", "10-0-45-67", "us-east-2b", "arm64",
     "machine-config-daemon-8kq2m",
     'Defaulted container "machine-config-daemon" out of: machine-config-daemon, kube-rbac-proxy\n'
     + aleph_json("2024-11-05T14:24:31Z", "415.92.202407091355-0", "rhcos-415.92.202407091355-0-aws.aarch64.vmdk",
                  "2024-07-09 14:01:12.5 +0000 UTC") + ignition_line("2024-11-05T14:24:31Z", "2024-11-05T14:21:52Z")),
    # A log that was rotated since the daemon started: no aleph line left (the audit says so).
    ("build09-kcxpl-worker-aarch64-us-east-2c", "p2v9t", "2025-02-03T09:11:00Z", "10-0-78-90", "us-east-2c", "arm64",
     "machine-config-daemon-t6w5r",
     klog("2025-04-20T03:12:44Z", 2290, "daemon.go:1410", "Validated on-disk state") + "\n"
     + klog("2025-04-20T03:12:44Z", 2290, "daemon.go:1460", "In desired config rendered-worker-5c0d1d3f0f1b5a7e2f5a1c2b3d4e5f60") + "\n"),
    # build01's x86_64 set: two Machines on the 4.3 AMI; the younger one logs the old single-line form.
    ("build09-kcxpl-worker-us-east-1a", "8d2rx", "2020-01-20T10:00:00Z", "10-0-130-11", "us-east-1a", "amd64",
     "machine-config-daemon-2lq7c", None),
    ("build09-kcxpl-worker-us-east-1a", "ktz5n", "2020-02-11T08:30:00Z", "10-0-141-22", "us-east-1a", "amd64",
     "machine-config-daemon-w9fbh",
     aleph_fields("2020-02-11T08:34:10Z", "43.81.202001142154.0", "rhcos-43.81.202001142154.0-aws.x86_64.vmdk",
                  "2020-01-14 22:31:07.8 +0000 UTC") + ignition_line("2020-02-11T08:34:10Z", "2020-02-11T08:31:30Z")),
]
for ms_name, suffix, created, ip, zone, arch, pod, log in NODES:
    region = zone[:-1]
    name = "%s-%s" % (ms_name, suffix)
    # AWS private DNS names: us-east-1 has its own domain.
    node = "ip-%s.%s" % (ip, "ec2.internal" if region == "us-east-1" else region + ".compute.internal")
    ms = next(s for s in sets + [b01] if s["metadata"]["name"] == ms_name)
    m = json.loads(json.dumps(MACHINE))
    meta = m["metadata"]
    meta["name"] = name
    meta["generateName"] = ms_name + "-"
    meta["creationTimestamp"] = created
    meta.pop("uid", None)
    meta["labels"] = dict(ms["spec"]["template"]["metadata"]["labels"])
    meta["labels"].update({"machine.openshift.io/instance-type": ms["spec"]["template"]["spec"]["providerSpec"]["value"]["instanceType"],
                           "machine.openshift.io/region": region, "machine.openshift.io/zone": zone})
    meta["ownerReferences"] = [{"apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet", "name": ms_name,
                                "controller": True, "blockOwnerDeletion": True,
                                "uid": "00000000-0000-4000-8000-%012d" % (sets + [b01]).index(ms)}]
    m["spec"]["providerSpec"] = json.loads(json.dumps(ms["spec"]["template"]["spec"]["providerSpec"]))
    if ms_name.endswith("-2b"):
        # A Machine keeps the image it was created with: 415.92.202407091355-0 (aarch64, us-east-2).
        m["spec"]["providerSpec"]["value"]["ami"] = {"id": "ami-03fa363d5e1ce41fb"}
    instance = "i-0" + hashlib.sha256(name.encode()).hexdigest()[:16]
    m["spec"]["providerID"] = "aws:///%s/%s" % (zone, instance)
    st = m["status"]
    st["addresses"] = [{"address": ip.replace("-", "."), "type": "InternalIP"},
                       {"address": node, "type": "InternalDNS"}, {"address": node, "type": "Hostname"}]
    st["nodeRef"] = {"kind": "Node", "name": node}
    for c in st["conditions"] + st["providerStatus"]["conditions"]:
        c["lastTransitionTime"] = created
    st["lastUpdated"] = created
    st["providerStatus"]["instanceId"] = instance
    write("namespaces/openshift-machine-api/machine.openshift.io/machines/%s.yaml" % name, m)
    write("cluster-scoped-resources/core/nodes/%s.yaml" % node, {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node, "creationTimestamp": created,
                     "annotations": {"machine.openshift.io/machine": "openshift-machine-api/" + name},
                     "labels": {"kubernetes.io/arch": arch, "kubernetes.io/os": "linux", "kubernetes.io/hostname": node,
                                "node-role.kubernetes.io/worker": "", "node.openshift.io/os_id": "rhcos",
                                "topology.kubernetes.io/region": region, "topology.kubernetes.io/zone": zone}},
        "spec": {"providerID": m["spec"]["providerID"]},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "lastTransitionTime": created}]}})
    write("namespaces/openshift-machine-config-operator/core/pods/%s.yaml" % pod, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod, "namespace": "openshift-machine-config-operator", "generateName": "machine-config-daemon-",
                     "creationTimestamp": created,
                     "labels": {"k8s-app": "machine-config-daemon", "pod-template-generation": "1"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "machine-config-daemon",
                                          "controller": True, "blockOwnerDeletion": True,
                                          "uid": "00000000-0000-4000-8000-00000000d5e7"}]},
        "spec": {"nodeName": node, "hostNetwork": True, "hostPID": True, "priorityClassName": "system-node-critical",
                 "serviceAccountName": "machine-config-daemon",
                 "containers": [{"name": "machine-config-daemon", "image": MCD_IMAGE,
                                 "command": ["/usr/bin/machine-config-daemon"],
                                 "args": ["start", "--payload-version=" + version]},
                                {"name": "kube-rbac-proxy", "image": MCD_IMAGE}]},
        "status": {"phase": "Running", "hostIP": ip.replace("-", "."), "startTime": created, "containerStatuses": [
            {"name": c, "ready": True, "started": True, "restartCount": 0, "image": MCD_IMAGE, "imageID": MCD_IMAGE,
             "lastState": {}, "state": {"running": {"startedAt": created}}}
            for c in ("machine-config-daemon", "kube-rbac-proxy")]}})
    if log is not None:
        path = os.path.join(OUT, "namespaces/openshift-machine-config-operator/core/pods/%s.log" % pod)
        with open(path, "w") as f:
            f.write(log)

with open(os.path.join(OUT, "README.md"), "w") as f:
    f.write("""# Example cluster dump

Written by `examples/make-cluster-dump.py` (do not edit by hand; run the script). An AWS
4.18 cluster assembled from the real public fixtures in `tests/fixtures/` (provenance in
`tests/fixtures/README.md`); only names, versions and the ConfigMap wrapper are adapted:

| objects | from |
|---|---|
| ClusterVersion, Infrastructure | `cluster/resourcewatch-sno-v2-clusterversion.yaml`, `cluster/resourcewatch-3nodes-gcp-infrastructure.yaml` (made 4.18.1 / AWS) |
| ClusterAutoscaler, MachineConfiguration | `autoscaler/clusterautoscaler-example.yaml`, `machineconfiguration/mco-template-managedbootimages-none.yaml` |
| MachineSets, MachineAutoscalers | build09's three arm64 sets (`machinesets/aws-arm64/…`), build01's x86_64 set renamed into the cluster (`machinesets/aws/…`) |
| user-data secrets | `ignition/secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml` (worker, spec 2.2.0), `ignition/secrets/vsphere-4.9-spec3.2.0-master-user-data-secret.yaml` (master) |
| MCS certificate | `certs/azure-communityus-machine-config-server-tls.crt` (no key) |
| stream ConfigMap | `stream/rhcos-4.18.json` wrapped as `coreos-bootimages` |

Made for this example, for `ocp-bootimage audit --from-dir examples/cluster-dump --nodes`, in
the shape of the real Machine `machines/aws/insights-sample-…-4g2rj.json` and of the real MCD
log lines in `mcd-logs/`, with builds the known streams list:

| MachineSet | youngest Machine's node booted | MCD log |
|---|---|---|
| build09-kcxpl-worker-aarch64-us-east-2a | 418.94.202501221327-0, the MachineSet's image | JSON form |
| build09-kcxpl-worker-aarch64-us-east-2b | 415.92.202407091355-0, before the image changed: older than the image | JSON form, saved with `oc logs` (preamble) |
| build09-kcxpl-worker-aarch64-us-east-2c | not known: the log was rotated, no aleph line left | no aleph line |
| build09-kcxpl-worker-us-east-1a (2 Machines) | 43.81.202001142154.0, the MachineSet's image | single-line `build=` form |

Layout: objects as `oc adm inspect` / must-gather write them (`namespaces/<ns>/<group>/<resource>/…`,
`cluster-scoped-resources/…`); the MCD logs as `<pod>.log` next to the pod objects in
`namespaces/openshift-machine-config-operator/core/pods/`. The older Machine of
`…-us-east-1a` has no log file: only the youngest Machine's log is read.
""")
print("wrote", OUT)
