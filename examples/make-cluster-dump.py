#!/usr/bin/env python3
"""Regenerates examples/cluster-dump/ from the real fixtures in tests/fixtures/.

The dump is an example cluster assembled from real public objects (see
examples/cluster-dump/README.md for what comes from where). Only names,
versions and the ConfigMap wrapper are adapted so the objects fit one cluster.
Run from the repository root: python3 examples/make-cluster-dump.py
"""
import base64
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
print("wrote", OUT)
