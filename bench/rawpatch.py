#!/usr/bin/env python3
"""The write floor the write benchmark compares with (bench/bench.py, job update_real): one
JSON merge PATCH per MachineSet setting its AMI, WORKERS at a time over keep-alive
connections, nothing else (no read, no record, no resourceVersion, no check).

Usage: rawpatch.py KUBECONFIG NAMESPACE PATCHES [WORKERS]   (PATCHES: lines "NAME AMI"; WORKERS 16)
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubeapi  # noqa: E402

kc, ns, path = sys.argv[1:4]
workers = int(sys.argv[4]) if len(sys.argv) > 4 else 16
amis = dict(line.split() for line in open(path) if line.strip())
kubeapi.patch_all(kubeapi.Kube(kc), ns, amis, workers)
