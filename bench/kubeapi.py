#!/usr/bin/env python3
"""A minimal Kubernetes API client for the benchmarks (Python stdlib + PyYAML).

Reads a kubeconfig (current context: server, token or client certificate, CA; inline
`*-data` or file paths), sends requests over one keep-alive connection per thread, and
knows the few things the write benchmarks need:

  Kube(kubeconfig).request(method, path, body=None, content_type=...) -> (status, bytes)
  load_dump(kube, DIR, machinesets=True)  create (or replace) the objects of a bench dump the
                                          tool reads, status included (real API servers)
  delete_machinesets(kube, ns)            DELETE collection
  record_bytes(kube)                      (Secrets labelled app.kubernetes.io/managed-by=ocp-bootimage
                                          in any namespace, decoded bytes of their data)
  delete_records(kube, ns)                delete them (and the v1 record Secret in `ns`)
  ensure_namespace(kube, name)            create a namespace unless it exists
  images(kube, ns)                        MachineSet name -> AWS AMI id
  patch_all(kube, ns, {name: ami}, workers)  one merge PATCH per MachineSet, `workers` at a time

Usable as a script: kubeapi.py load KUBECONFIG DIR | kubeapi.py record KUBECONFIG.
"""
import base64, http.client, json, os, ssl, sys, tempfile, threading, urllib.parse
from concurrent.futures import ThreadPoolExecutor

import yaml

MS_PATH = "/apis/machine.openshift.io/v1beta1/namespaces/{ns}/machinesets"
RECORD_LABEL = "app.kubernetes.io/managed-by=ocp-bootimage"
# The kinds of a bench dump the tool reads (Machines, Nodes and Pods are only for --nodes).
PLURALS = {
    "MachineSet": "machinesets", "Secret": "secrets", "ConfigMap": "configmaps",
    "ClusterVersion": "clusterversions", "Infrastructure": "infrastructures",
    "MachineConfiguration": "machineconfigurations", "MachineAutoscaler": "machineautoscalers",
    "ClusterAutoscaler": "clusterautoscalers",
}
CLUSTER_SCOPED = ("ClusterVersion", "Infrastructure", "MachineConfiguration", "ClusterAutoscaler")
AMI = ("spec", "template", "spec", "providerSpec", "value", "ami", "id")


class Kube:
    def __init__(self, kubeconfig):
        cfg = yaml.safe_load(open(kubeconfig))
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.url = urllib.parse.urlparse(cluster["server"])
        self.headers = {"Accept": "application/json"}
        if user.get("token"):
            self.headers["Authorization"] = f"Bearer {user['token']}"
        self.ssl = None
        if self.url.scheme == "https":
            self.ssl = ssl.create_default_context()
            self._tmp = tempfile.mkdtemp()
            ca = self._file(cluster, "certificate-authority", "ca.crt")
            if ca:
                self.ssl.load_verify_locations(ca)
            cert = self._file(user, "client-certificate", "client.crt")
            key = self._file(user, "client-key", "client.key")
            if cert and key:
                self.ssl.load_cert_chain(cert, key)
        self.local = threading.local()

    def _file(self, section, key, name):
        if section.get(key):
            return section[key]
        if section.get(key + "-data"):
            path = os.path.join(self._tmp, name)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                f.write(base64.b64decode(section[key + "-data"]))
            return path
        return None

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            port = self.url.port or (443 if self.ssl else 80)
            if self.ssl:
                c = http.client.HTTPSConnection(self.url.hostname, port, context=self.ssl, timeout=120)
            else:
                c = http.client.HTTPConnection(self.url.hostname, port, timeout=120)
            self.local.conn = c
        return c

    def request(self, method, path, body=None, content_type="application/json"):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, ConnectionError):
                c.close()
                self.local.conn = None
                if attempt:
                    raise

    def json(self, method, path, body=None, content_type="application/json", ok=(200, 201)):
        status, data = self.request(method, path, body, content_type)
        if status not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data) if data else None


def _objects(path):
    text = open(path).read()
    docs = [json.loads(text)] if path.endswith(".json") else list(yaml.safe_load_all(text))
    out = []
    for d in docs:
        if not d:
            continue
        out.extend((d.get("items") or []) if d.get("kind") == "List" else [d])
    return out


def _collection(obj):
    api = obj["apiVersion"]
    base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
    ns = obj["metadata"].get("namespace")
    plural = PLURALS[obj["kind"]]
    return f"{base}/namespaces/{ns}/{plural}" if ns and obj["kind"] not in CLUSTER_SCOPED else f"{base}/{plural}"


def _create(kube, obj):
    obj = json.loads(json.dumps(obj))
    md = obj["metadata"]
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "selfLink", "generation",
              "ownerReferences", "finalizers"):
        md.pop(k, None)
    coll = _collection(obj)
    item = f"{coll}/{md['name']}"
    status, _ = kube.request("POST", coll, obj)
    if status == 409:
        cur = kube.json("GET", item)
        obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        status, _ = kube.request("PUT", item, obj)
    if status not in (200, 201):
        raise RuntimeError(f"creating {item}: HTTP {status}")
    if "status" in obj:
        cur = kube.json("GET", item)
        cur["status"] = obj["status"]
        st, _ = kube.request("PUT", item + "/status", cur)
        if st not in (200, 201, 404):
            raise RuntimeError(f"status of {item}: HTTP {st}")


def load_dump(kube, root, machinesets=True, workers=8):
    """Creates (or replaces) the objects of a bench dump that the tool reads."""
    objs = []
    for d, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith((".yaml", ".yml", ".json")):
                objs += [o for o in _objects(os.path.join(d, f)) if o.get("kind") in PLURALS]
    if not machinesets:
        objs = [o for o in objs if o["kind"] != "MachineSet"]
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda o: _create(kube, o), objs))
    return len(objs)


def delete_machinesets(kube, ns):
    kube.request("DELETE", MS_PATH.format(ns=ns))


def _records(kube):
    """Every Secret the tool labelled, in any namespace (v1 records in the MachineSet
    namespace, v2 records in their own, `ocp-bootimage` by default)."""
    lst = kube.json("GET", f"/api/v1/secrets?labelSelector={urllib.parse.quote(RECORD_LABEL)}")
    return lst.get("items") or []


def record_bytes(kube):
    """(number of record Secrets, decoded bytes of their data)."""
    items = _records(kube)
    size = sum(len(base64.b64decode(v)) for s in items for v in (s.get("data") or {}).values())
    return len(items), size


def delete_records(kube, ns):
    for s in _records(kube):
        md = s["metadata"]
        kube.request("DELETE", f"/api/v1/namespaces/{md['namespace']}/secrets/{md['name']}")
    kube.request("DELETE", f"/api/v1/namespaces/{ns}/secrets/ocp-bootimage-rollback")


def ensure_namespace(kube, name):
    st, _ = kube.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": name}})
    if st not in (200, 201, 409):
        raise RuntimeError(f"creating namespace {name}: HTTP {st}")


def images(kube, ns):
    out = {}
    for ms in kube.json("GET", MS_PATH.format(ns=ns)).get("items") or []:
        v = ms
        for k in AMI:
            v = (v or {}).get(k) if isinstance(v, dict) else None
        out[ms["metadata"]["name"]] = v
    return out


def ami_patch(ami):
    patch = {"id": ami}
    for k in reversed(AMI[:-1]):
        patch = {k: patch}
    return patch


def patch_all(kube, ns, amis, workers=16):
    """One merge PATCH per MachineSet (name -> AMI id), `workers` at a time."""
    base = MS_PATH.format(ns=ns)

    def one(item):
        name, ami = item
        st, data = kube.request("PATCH", f"{base}/{name}", ami_patch(ami), "application/merge-patch+json")
        if st != 200:
            raise RuntimeError(f"PATCH {name}: HTTP {st} {data[:200]!r}")

    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, sorted(amis.items())))


if __name__ == "__main__":
    cmd, kc = sys.argv[1], sys.argv[2]
    k = Kube(kc)
    if cmd == "load":
        print(load_dump(k, sys.argv[3]))
    elif cmd == "record":
        print(*record_bytes(k))
    else:
        sys.exit(__doc__)
