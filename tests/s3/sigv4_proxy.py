#!/usr/bin/python3
"""A checking proxy in front of s3rver, which does not verify signatures.

Every request is signed again with botocore's own SigV4 code (S3SigV4Auth),
from the request's signed headers and its x-amz-date, and the Authorization
header must match; x-amz-content-sha256 must be the SHA-256 of the body that
arrived (UNSIGNED-PAYLOAD is refused for PUT). Good requests go on to s3rver,
bad ones get 403 SignatureDoesNotMatch. Two calls s3rver lacks are answered
here, from the uploads this proxy saw start: AbortMultipartUpload (which also
removes the parts from s3rver's directory) and ListMultipartUploads.

Control (unsigned, under /__proxy/):
  GET  /__proxy/stats   {"checked", "failed", "forwarded", "injected", "open_uploads"}
  GET  /__proxy/log     every request: method, path, query, range, status, verdict
  POST /__proxy/fail?method=GET&match=TEXT&count=N&status=503|drop
       the next N checked requests of that method (or *) whose path?query
       holds TEXT are answered with that status (or the connection is closed)
  POST /__proxy/reset   forgets counters, log and pending failures

Usage: sigv4_proxy.py --upstream http://127.0.0.1:PORT --s3rver-dir DIR
                      [--port 0] [--access-key S3RVER] [--secret-key S3RVER]
Prints "sigv4 proxy listening on 127.0.0.1:PORT" once it serves.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import shutil
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te", "upgrade"}
MAX_SKEW = datetime.timedelta(minutes=15)


class State:
    def __init__(self, access_key, secret_key, s3rver_dir):
        self.lock = threading.Lock()
        self.access_key = access_key
        self.secret_key = secret_key
        self.s3rver_dir = s3rver_dir
        self.reset()

    def reset(self):
        self.checked = self.failed = self.forwarded = self.injected = 0
        self.log = []
        self.faults = []  # [{"method", "match", "count", "status"}]
        self.uploads = getattr(self, "uploads", {})  # upload id -> (bucket, key)

    def take_fault(self, method, target):
        with self.lock:
            for fault in self.faults:
                if fault["count"] > 0 and fault["method"] in ("*", method) and fault["match"] in target:
                    fault["count"] -= 1
                    self.injected += 1
                    return fault["status"]
        return None


def s3_error(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>{uuid.uuid4().hex}</RequestId></Error>").encode()


def signature_problem(state, method, raw_path, headers, body):
    """None when the request is signed right, else why not."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    try:
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        key_id, date, region, service, terminator = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        given = fields["Signature"]
    except (KeyError, ValueError):
        return "malformed Authorization header"
    if terminator != "aws4_request" or service != "s3":
        return "credential scope is not s3/aws4_request"
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        if required not in signed:
            return f"{required} is not signed"
    if "x-amz-security-token" in headers and "x-amz-security-token" not in signed:
        return "x-amz-security-token is not signed"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        return "x-amz-date does not match the credential date"
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return "bad x-amz-date"
    if abs(datetime.datetime.utcnow() - when) > MAX_SKEW:
        return "x-amz-date too far from now"
    payload_hash = headers.get("x-amz-content-sha256", "")
    if payload_hash == "UNSIGNED-PAYLOAD":
        if method == "PUT":
            return "UNSIGNED-PAYLOAD on a PUT"
    elif payload_hash != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 is not the SHA-256 of the body"
    if key_id != state.access_key:
        return "unknown access key"

    request = AWSRequest(method=method, url="http://" + headers["host"] + raw_path,
                         headers={name: headers[name] for name in signed if name in headers}, data=body)
    request.context["timestamp"] = amz_date
    signer = S3SigV4Auth(Credentials(key_id, state.secret_key, headers.get("x-amz-security-token")), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, given):
        return "SignatureDoesNotMatch"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sigv4-proxy"

    def log_message(self, fmt, *args):  # quiet: the log endpoint tells
        pass

    def do_GET(self):
        self.handle_any()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    # ---- plumbing ----------------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status, body=b"", headers=()):
        # Logged before the answer leaves: a client that reads the log right
        # after its answer must find its request there.
        entry, self.entry = getattr(self, "entry", None), None
        if entry is not None:
            entry.setdefault("status", status)
            self.record(entry)
        self.send_response(status)
        sent_length = False
        for name, value in headers:
            if name.lower() in HOP_BY_HOP:
                continue
            sent_length |= name.lower() == "content-length"
            self.send_header(name, value)
        if not sent_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def record(self, entry):
        with self.server.state.lock:
            self.server.state.log.append(entry)

    # ---- requests ----------------------------------------------------------

    def handle_any(self):
        state = self.server.state
        split = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if split.path.startswith("/__proxy/"):
            return self.control(split)
        headers = {k.lower(): v for k, v in reversed(self.headers.items())}  # the first of a repeated name
        problem = signature_problem(state, self.command, self.path, headers, body)
        with state.lock:
            state.checked += 1
            if problem:
                state.failed += 1
        entry = {"method": self.command, "path": split.path, "query": split.query, "range": headers.get("range", ""),
                 "verdict": problem or "ok"}
        self.entry = entry  # recorded by answer()
        if problem:
            return self.answer(403, s3_error("SignatureDoesNotMatch", problem), [("Content-Type", "application/xml")])

        fault = state.take_fault(self.command, split.path + "?" + split.query)
        if fault is not None:
            entry["status"] = fault
            entry["injected"] = True
            if fault == "drop":
                self.entry = None
                self.record(entry)
                self.close_connection = True
                return
            return self.answer(int(fault), s3_error("ServiceUnavailable" if int(fault) == 503 else "InternalError",
                                                    "injected by the proxy"), [("Content-Type", "application/xml")])

        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        if self.command == "DELETE" and "uploadId" in query:
            self.abort_upload(query["uploadId"][0])
        elif self.command == "GET" and "uploads" in query:
            self.list_uploads(split.path.strip("/").split("/")[0])
        else:
            self.forward(split, query, body)

    def forward(self, split, query, body):
        state = self.server.state
        up = urllib.parse.urlsplit(self.server.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            self.answer(502, s3_error("BadGateway", f"s3rver: {e}"), [("Content-Type", "application/xml")])
            return 502
        finally:
            conn.close()
        with state.lock:
            state.forwarded += 1
            if self.command == "POST" and "uploads" in query and resp.status == 200:
                upload_id = data.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
                parts = split.path.lstrip("/").split("/", 1)
                state.uploads[upload_id] = (parts[0], urllib.parse.unquote(parts[1]))
            elif self.command == "POST" and "uploadId" in query and resp.status == 200 and b"<Error>" not in data:
                state.uploads.pop(query["uploadId"][0], None)
        self.answer(resp.status, data, resp.getheaders())
        return resp.status

    def abort_upload(self, upload_id):
        state = self.server.state
        with state.lock:
            known = state.uploads.pop(upload_id, None)
        if known is None:
            self.answer(404, s3_error("NoSuchUpload", "no such upload"), [("Content-Type", "application/xml")])
            return 404
        # s3rver keeps the parts of an upload in BUCKET/._S3rver_uploads/ID.
        shutil.rmtree(os.path.join(state.s3rver_dir, known[0], "._S3rver_uploads", upload_id), ignore_errors=True)
        self.answer(204)
        return 204

    def list_uploads(self, bucket):
        state = self.server.state
        with state.lock:
            mine = [(uid, key) for uid, (b, key) in state.uploads.items() if b == bucket]
        items = "".join(f"<Upload><Key>{key}</Key><UploadId>{uid}</UploadId></Upload>" for uid, key in mine)
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>'
               f"<Bucket>{bucket}</Bucket><IsTruncated>false</IsTruncated>{items}</ListMultipartUploadsResult>")
        self.answer(200, xml.encode(), [("Content-Type", "application/xml")])
        return 200

    def control(self, split):
        state = self.server.state
        query = dict(urllib.parse.parse_qsl(split.query))
        if split.path == "/__proxy/stats":
            with state.lock:
                out = {"checked": state.checked, "failed": state.failed, "forwarded": state.forwarded,
                       "injected": state.injected, "open_uploads": len(state.uploads)}
        elif split.path == "/__proxy/log":
            with state.lock:
                out = list(state.log)
        elif split.path == "/__proxy/fail" and self.command == "POST":
            fault = {"method": query.get("method", "*"), "match": query.get("match", ""),
                     "count": int(query.get("count", "1")), "status": query.get("status", "503")}
            with state.lock:
                state.faults.append(fault)
            out = fault
        elif split.path == "/__proxy/reset" and self.command == "POST":
            with state.lock:
                state.reset()
            out = {"reset": True}
        else:
            return self.answer(404, b"unknown control path")
        self.answer(200, json.dumps(out).encode(), [("Content-Type", "application/json")])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--s3rver-dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--access-key", default="S3RVER")
    parser.add_argument("--secret-key", default="S3RVER")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.access_key, args.secret_key, args.s3rver_dir)
    server.upstream = args.upstream
    print(f"sigv4 proxy listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
