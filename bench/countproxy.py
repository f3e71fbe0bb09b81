#!/usr/bin/env python3
"""A counting HTTP proxy in front of the (plain-HTTP) test API server.

Usage: countproxy.py UPSTREAM_URL LOGFILE [KUBECONFIG]
  -> prints its own URL on stdout, then serves.
Every request is forwarded unchanged and one line "METHOD PATH" is appended to LOGFILE
(flushed per request), so a client's API requests are counted by `wc -l` of the log.
With KUBECONFIG (a real kube-apiserver over TLS), the proxy connects to the upstream with
that kubeconfig's CA and credentials and drops the client's own `Authorization` header:
clients talk plain HTTP to the proxy with any token.
Used only for counting: wall times are measured against the server directly.
"""
import http.client, os, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UP = urllib.parse.urlparse(sys.argv[1])
LOG = open(sys.argv[2], "a", buffering=1)
KUBE = None
if len(sys.argv) > 3:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import kubeapi
    KUBE = kubeapi.Kube(sys.argv[3])
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-connection", "content-length"}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _any(self):
        with LOCK:
            LOG.write(f"{self.command} {self.path}\n")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if KUBE is not None:
            hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            hdrs.update({k: v for k, v in KUBE.headers.items() if k == "Authorization"})
            c = http.client.HTTPSConnection(UP.hostname, UP.port, context=KUBE.ssl, timeout=60)
        else:
            c = http.client.HTTPConnection(UP.hostname, UP.port, timeout=60)
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(f"http://127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
