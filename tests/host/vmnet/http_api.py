#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A cloud ENI API for the tests: http_api.py DIR

Listens on 127.0.0.1 (a free port, written to DIR/port once listening) and
appends one JSON line per request to DIR/requests: method, path, the
Content-Type header and the body.  Answers DIR/status (a number, e.g. 503,
while that file exists: an outage) or else 200, with a small JSON body.
"""
import http.server
import json
import os
import sys


class Api(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        d = self.server.dir
        try:
            with open(os.path.join(d, "status")) as f:
                status = int(f.read().strip())
        except (OSError, ValueError):
            status = 200
        with open(os.path.join(d, "requests"), "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "content_type": self.headers.get("Content-Type", ""),
                                "body": body, "status": status}) + "\n")
        out = json.dumps({"ok": status < 400}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, fmt, *args):
        pass


def main():
    d = sys.argv[1]
    srv = http.server.HTTPServer(("127.0.0.1", 0), Api)
    srv.dir = d
    tmp = os.path.join(d, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(d, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
