#!/usr/bin/env python3
"""A loopback stand-in for the Hugging Face Hub, for vs2's download tests. Standard library only.

It serves model repositories from local directories with the hub's URL and header layout, as
huggingface_hub uses it:

  GET  /api/models/{repo}[/revision/{rev}][?blobs=true]   model info: sha, siblings (rfilename,
                                                           size, blobId, lfs {sha256, size})
  HEAD/GET /{repo}/resolve/{rev}/{file}                    X-Repo-Commit, ETag; small ("git")
                                                           files are served here, LFS files
                                                           answer 302 to the CDN with
                                                           X-Linked-Etag (sha256), X-Linked-Size
  HEAD/GET /cdn-lfs/{sha256}  (on a second port)           the LFS bytes, Range -> 206

Errors carry X-Error-Code like the hub: RepositoryNotFound (401 without a token, 404 with one),
RevisionNotFound / EntryNotFound (404), GatedRepo (401 without a token, 403 with a wrong one).
The CDN refuses a request that carries Authorization (a signed URL must not get the token).

Fault injection (--fault, repeatable), FILE is a repo-relative file name or "api":
  drop:FILE:BYTES[:COUNT]     send BYTES of the body, then close the connection
  stall:FILE:BYTES[:COUNT]    send BYTES of the body, then send nothing more (until killed)
  status:FILE:CODE[:COUNT]    answer CODE (e.g. 500) instead
  corrupt:FILE                flip one byte of the body (always)
  norange:FILE                ignore Range and answer 200 with the whole body (always)
  hugesize:FILE               report a size of 10^15 bytes in the model info (always)
  hugeinfo:api                pad the model info to 70 MiB, sent in 4 KiB writes (always)
COUNT (default 1) is how many requests the fault hits; it counts GETs of the body (all methods
for status). Binds 127.0.0.1 only, on ephemeral ports; writes "PORT" to --port-file; exits
after --lifetime seconds whatever happens, so a test can never hang on it.

  hubserver.py --repo owner/name=DIR [--repo owner/name@v1=DIR2] --port-file F [--log F]
               [--gated owner/name --token T] [--throttle BYTES_PER_S] [--fault ...]
"""
import argparse
import hashlib
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
LFS_MIN_SIZE = 10 * 1024 * 1024


class Repo:
    """One (repo, revision): files, their hashes and a commit id derived from them."""

    def __init__(self, repo_id, rev, root):
        self.id, self.rev, self.files = repo_id, rev, {}
        for dirpath, _, names in os.walk(root):
            for n in names:
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, "rb") as f:
                    data = f.read()
                lfs = rel.endswith(LFS_SUFFIXES) or len(data) >= LFS_MIN_SIZE
                git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                self.files[rel] = dict(data=data, lfs=lfs, sha256=hashlib.sha256(data).hexdigest(),
                                       git=git)
        h = hashlib.sha1(rev.encode())
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + self.files[rel]["git"].encode())
        self.commit = h.hexdigest()


class State:
    def __init__(self, args):
        self.repos = {}  # (repo_id, rev or commit) -> Repo
        for spec in args.repo:
            name, root = spec.split("=", 1)
            repo_id, _, rev = name.partition("@")
            r = Repo(repo_id, rev or "main", root)
            self.repos[(repo_id, r.rev)] = r
            self.repos[(repo_id, r.commit)] = r
        self.blobs = {}
        for r in self.repos.values():
            for f in r.files.values():
                self.blobs[f["sha256"]] = f
        self.gated, self.token = set(args.gated), args.token
        self.throttle = args.throttle
        self.faults = []
        for spec in args.fault:
            p = spec.split(":")
            kind, fname = p[0], p[1]
            arg = int(p[2]) if len(p) > 2 else 0
            count = int(p[3]) if len(p) > 3 else (1 if kind in ("drop", "stall", "status") else 10**9)
            self.faults.append(dict(kind=kind, file=fname, arg=arg, left=count))
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.cdn_port = 0

    def take_fault(self, kinds, fname):
        """The first fault of one of kinds for fname that has uses left (and use one)."""
        with self.lock:
            for f in self.faults:
                if f["kind"] in kinds and f["file"] == fname and f["left"] > 0:
                    f["left"] -= 1
                    return f
        return None

    def has_fault(self, kind, fname):
        with self.lock:
            return any(f["kind"] == kind and f["file"] == fname and f["left"] > 0 for f in self.faults)

    def write_log(self, line):
        if self.log:
            with self.lock:
                self.log.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubserver/1"

    def log_message(self, fmt, *args):  # quiet: the request log is --log
        pass

    # -- helpers ----------------------------------------------------------------------------
    def send_error_code(self, code, error_code, message):
        body = json.dumps({"error": message}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if error_code:
            self.send_header("X-Error-Code", error_code)
        self.send_header("X-Error-Message", message)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(code, 0)

    def record(self, code, nbytes):
        st = self.server.state
        st.write_log("%s %s range=%s auth=%s status=%d bytes=%d" % (
            self.command, self.path, self.headers.get("Range", "-"),
            "yes" if self.headers.get("Authorization") else "no", code, nbytes))

    def auth_token(self):
        a = self.headers.get("Authorization", "")
        return a[7:] if a.startswith("Bearer ") else None

    def check_access(self, repo_id):
        """None if the request may see repo_id, else (code, error_code, message) to answer."""
        st = self.server.state
        tok = self.auth_token()
        if not any(k[0] == repo_id for k in st.repos):
            if tok:
                return 404, "RepositoryNotFound", "Repository not found"
            return 401, "RepositoryNotFound", "Repository not found"
        if repo_id in st.gated:
            if not tok:
                return 401, "GatedRepo", "Access to model %s is restricted. You must have access to it and be authenticated to access it. Please log in." % repo_id
            if tok != st.token:
                return 403, "GatedRepo", "Access to model %s is restricted and you are not in the authorized list." % repo_id
        return None

    def split_repo(self, parts):
        """(repo_id, rest) where repo_id is 'owner/name' if such a repo exists, else 'name'."""
        st = self.server.state
        if len(parts) >= 2 and any(k[0] == parts[0] + "/" + parts[1] for k in st.repos):
            return parts[0] + "/" + parts[1], parts[2:]
        if parts and any(k[0] == parts[0] for k in st.repos):
            return parts[0], parts[1:]
        return (parts[0] + "/" + parts[1] if len(parts) >= 2 else ""), parts[2:]

    # -- routes -----------------------------------------------------------------------------
    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        try:
            u = urllib.parse.urlsplit(self.path)
            raw = u.path.split("/")[1:]
            if self.server.is_cdn:
                if len(raw) == 2 and raw[0] == "cdn-lfs":
                    return self.serve_cdn(raw[1])
                return self.send_error_code(404, None, "Not found")
            if raw[:2] == ["api", "models"]:
                return self.serve_api(raw[2:], urllib.parse.parse_qs(u.query))
            repo_id, rest = self.split_repo(raw)
            if len(rest) >= 3 and rest[0] == "resolve":
                rev = urllib.parse.unquote(rest[1])
                fname = urllib.parse.unquote("/".join(rest[2:]))
                return self.serve_resolve(repo_id, rev, fname)
            return self.send_error_code(404, None, "Not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def serve_api(self, parts, query):
        st = self.server.state
        repo_id, rest = self.split_repo([urllib.parse.unquote(p) for p in parts])
        rev = "main"
        if len(rest) >= 2 and rest[0] == "revision":
            rev = urllib.parse.unquote("/".join(rest[1:]))
        f = st.take_fault(("status",), "api")
        if f:
            return self.send_error_code(f["arg"], None, "injected error")
        denied = self.check_access(repo_id)
        if denied:
            return self.send_error_code(*denied)
        r = st.repos.get((repo_id, rev))
        if r is None:
            return self.send_error_code(404, "RevisionNotFound", "Invalid rev id: %s" % rev)
        blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
        siblings = []
        for name in sorted(r.files):
            fi = r.files[name]
            size = 10**15 if st.has_fault("hugesize", name) else len(fi["data"])
            s = {"rfilename": name}
            if blobs:
                s.update(size=size, blobId=fi["git"])
                if fi["lfs"]:
                    s["lfs"] = {"sha256": fi["sha256"], "size": size, "pointerSize": 134}
            siblings.append(s)
        body = json.dumps({"_id": "x", "id": repo_id, "modelId": repo_id, "sha": r.commit,
                           "private": False, "gated": repo_id in st.gated and "manual",
                           "siblings": siblings}).encode()
        if st.has_fault("hugeinfo", "api"):
            body = body[:-1] + b',"pad":"' + b"x" * (70 << 20) + b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            try:
                for i in range(0, len(body), 4096):
                    self.wfile.write(body[i:i + 4096])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (hugeinfo: past its cap)
        self.record(200, len(body))

    def serve_resolve(self, repo_id, rev, fname):
        st = self.server.state
        f = st.take_fault(("status",), fname)
        if f:
            return self.send_error_code(f["arg"], None, "injected error")
        denied = self.check_access(repo_id)
        if denied:
            return self.send_error_code(*denied)
        r = st.repos.get((repo_id, rev))
        if r is None:
            return self.send_error_code(404, "RevisionNotFound", "Invalid rev id: %s" % rev)
        fi = r.files.get(fname)
        if fi is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Error-Message", "Entry not found")
            self.send_header("X-Repo-Commit", r.commit)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return self.record(404, 0)
        if fi["lfs"]:
            size = len(fi["data"])
            loc = "http://127.0.0.1:%d/cdn-lfs/%s?X-Amz-Signature=x&response-content-disposition=%s" % (
                st.cdn_port, fi["sha256"], urllib.parse.quote(fname, safe=""))
            body = b"Found. Redirecting to " + loc.encode()
            self.send_response(302)
            self.send_header("Location", loc)
            self.send_header("X-Repo-Commit", r.commit)
            self.send_header("ETag", '"%s"' % fi["git"])
            self.send_header("X-Linked-Etag", '"%s"' % fi["sha256"])
            self.send_header("X-Linked-Size", str(size))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return self.record(302, 0)
        self.send_body(fname, fi["data"], fi["git"], r.commit)

    def serve_cdn(self, sha):
        st = self.server.state
        fi = st.blobs.get(sha)
        if fi is None:
            return self.send_error_code(404, None, "NoSuchKey")
        if self.headers.get("Authorization"):
            return self.send_error_code(400, None, "Only one auth mechanism allowed")
        fname = next((n for r in st.repos.values() for n, f in r.files.items() if f is fi), sha)
        f = st.take_fault(("status",), fname)
        if f:
            return self.send_error_code(f["arg"], None, "injected error")
        self.send_body(fname, fi["data"], fi["sha256"], None)

    def send_body(self, fname, data, etag, commit):
        """The body with Range support and the body faults."""
        st = self.server.state
        if st.has_fault("corrupt", fname):
            b = bytearray(data)
            b[len(b) // 2] ^= 0xFF
            data = bytes(b)
        start, total = 0, len(data)
        rng = self.headers.get("Range")
        partial = False
        if rng and rng.startswith("bytes=") and not st.has_fault("norange", fname):
            first = rng[6:].split("-")[0]
            start = int(first) if first else 0
            if start >= total:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % total)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return self.record(416, 0)
            partial = True
        body = data[start:]
        self.send_response(206 if partial else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"%s"' % etag)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        if partial:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, total - 1, total))
        self.end_headers()
        if self.command == "HEAD":
            return self.record(206 if partial else 200, 0)
        fault = st.take_fault(("drop", "stall"), fname)
        limit = len(body) if fault is None else min(fault["arg"], len(body))
        sent = self.write_throttled(body[:limit])
        self.record(206 if partial else 200, sent)
        if fault is None:
            return
        if fault["kind"] == "stall":
            time.sleep(3600)  # the lifetime timer ends the process
        self.close_connection = True
        self.connection.shutdown(2)

    def write_throttled(self, body):
        rate = self.server.state.throttle
        if not rate:
            self.wfile.write(body)
            return len(body)
        chunk, sent = max(1, rate // 20), 0
        while sent < len(body):
            self.wfile.write(body[sent:sent + chunk])
            self.wfile.flush()
            sent += len(body[sent:sent + chunk])
            time.sleep(0.05)
        return sent


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", action="append", default=[], help="owner/name[@rev]=DIR")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--gated", action="append", default=[])
    ap.add_argument("--token", default="hf_test_token")
    ap.add_argument("--throttle", type=int, default=0, help="bytes per second for bodies")
    ap.add_argument("--fault", action="append", default=[])
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()

    state = State(args)
    cdn = Server(("127.0.0.1", 0), Handler)
    cdn.state, cdn.is_cdn = state, True
    hub = Server(("127.0.0.1", 0), Handler)
    hub.state, hub.is_cdn = state, False
    state.cdn_port = cdn.server_address[1]
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    threading.Thread(target=lambda: (time.sleep(args.lifetime), os._exit(3)), daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % hub.server_address[1])
    os.replace(tmp, args.port_file)  # readers never see a half-written port
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
