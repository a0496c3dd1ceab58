#!/usr/bin/env python3
"""A loopback HTTP proxy in front of a ProgImage server that answers storms of
429 and 503 (and dropped connections) on command, so that the clients' retry
policies are tested against a real server behind a misbehaving hop.

    storm_proxy.py --upstream http://127.0.0.1:PORT --port-file FILE

It writes its own port to FILE once it listens. Every request is forwarded to
the upstream unchanged, except while a storm is armed:

    POST /__storm  {"count": 6, "statuses": [429, 503], "retry_after": 1,
                    "methods": ["POST"], "path_prefix": "/v1/images", "drop": false}

answers the next `count` matching requests itself, cycling through `statuses`
(each with `Retry-After` when `retry_after` is not null, and an API error
body), or closes their connections without an answer when `drop` is true.
`GET /__log` returns the requests seen so far as JSON lines
({"t", "method", "path", "answer"}: the status sent, or "dropped"), and
`POST /__reset` disarms the storm and clears the log.
"""
import argparse
import http.client
import http.server
import json
import socketserver
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class Storm:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.count = 0
        self.statuses = [503]
        self.retry_after = 1
        self.methods = None
        self.path_prefix = ""
        self.drop = False
        self.sent = 0
        self.log = []

    def arm(self, spec):
        self.count = int(spec.get("count", 1))
        self.statuses = [int(s) for s in spec.get("statuses", [503])] or [503]
        self.retry_after = spec.get("retry_after", 1)
        self.methods = spec.get("methods")
        self.path_prefix = spec.get("path_prefix", "")
        self.drop = bool(spec.get("drop", False))
        self.sent = 0

    def take(self, method, path):
        """The storm's answer for this request (a status, "dropped"), or None to forward it."""
        if self.count <= 0:
            return None
        if self.methods and method not in self.methods:
            return None
        if not path.startswith(self.path_prefix):
            return None
        self.count -= 1
        if self.drop:
            return "dropped"
        status = self.statuses[self.sent % len(self.statuses)]
        self.sent += 1
        return status


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    storm: Storm
    upstream: urllib.parse.SplitResult

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def record(self, answer):
        with self.storm.lock:
            self.storm.log.append({"t": time.time(), "method": self.command, "path": self.path, "answer": answer})

    def control(self, body):
        path = self.path.split("?")[0]
        with self.storm.lock:
            if path == "/__storm" and self.command == "POST":
                self.storm.arm(json.loads(body or b"{}"))
                return self.answer(204, b"")
            if path == "/__reset" and self.command == "POST":
                self.storm.reset()
                return self.answer(204, b"")
            if path == "/__log" and self.command == "GET":
                lines = "".join(json.dumps(e) + "\n" for e in self.storm.log).encode()
                return self.answer(200, lines, [("Content-Type", "application/x-ndjson")])
        return self.answer(404, b'{"error":{"code":"not_found","message":"unknown control path"}}')

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/__"):
            return self.control(body)
        with self.storm.lock:
            storm_answer = self.storm.take(self.command, self.path)
        if storm_answer == "dropped":
            self.record("dropped")
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if storm_answer is not None:
            self.record(storm_answer)
            code = "rate_limited" if storm_answer == 429 else "unavailable"
            error = json.dumps({"error": {"code": code, "message": "storm from the test proxy"}}).encode()
            headers = [("Content-Type", "application/json")]
            if self.storm.retry_after is not None:
                headers.append(("Retry-After", str(self.storm.retry_after)))
            return self.answer(storm_answer, error, headers)
        self.forward(body)

    def forward(self, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            self.record(502)
            return self.answer(502, json.dumps({"error": {"code": "upstream_failed", "message": str(e)}}).encode())
        finally:
            conn.close()
        self.record(resp.status)
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}]
        self.send_response(resp.status)
        for k, v in out:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    Handler.storm = Storm()
    Handler.upstream = urllib.parse.urlsplit(args.upstream)
    server = Server(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
