#!/usr/bin/env python3
"""webhookrecv: the receiving end of tr7ntpd's alert webhook, for the system tests.

  webhookrecv.py ADDR PORT OUT --secret FILE [--fail-first N]

Accepts POSTs, checks the X-Tr7-Signature header (sha256=<hex HMAC-SHA256 of the body,
keyed with the secret file's bytes without trailing whitespace>), and appends one JSON
line per request to OUT: {"path", "signature_ok", "body": <the parsed body>, "time"}.
The first N requests are answered 503 (to see the daemon retry); the others 204.
"""
import argparse
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("out")
    ap.add_argument("--secret", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    a = ap.parse_args()
    key = open(a.secret, "rb").read().rstrip(b" \t\r\n")
    state = {"n": 0}

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            got = self.headers.get("X-Tr7-Signature", "")
            state["n"] += 1
            status = 503 if state["n"] <= a.fail_first else 204
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            with open(a.out, "a") as f:
                f.write(json.dumps({"path": self.path, "signature_ok": hmac.compare_digest(want, got),
                                    "status": status, "body": parsed, "time": time.time()}) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    HTTPServer((a.addr, a.port), H).serve_forever()


if __name__ == "__main__":
    sys.exit(main())
