#!/usr/bin/env python3
"""Check a Hugging Face hub cache against the layout huggingface_hub documents ("Understand
caching" in its guides), independently of vs2's code:

  <cache>/models--{owner}--{name}/refs/{revision}     the commit hash (40 hex, no newline)
  <cache>/models--{owner}--{name}/snapshots/{commit}/ one relative symlink per file,
                                                      ../../blobs/{etag}
  <cache>/models--{owner}--{name}/blobs/{etag}        the content: etag = sha256 for LFS
                                                      files, git blob sha1 for the others
  no blobs/*.incomplete left behind

With --hf (and huggingface_hub importable), also asks huggingface_hub itself: scan_cache_dir()
must list the repo, revision and files, and hf_hub_download(local_files_only=True) must find
each file. Exit 0 when every check passes; each failure is printed.

  check_layout.py CACHE REPO_ID [--revision main] [--files a,b,...] [--hf]
"""
import argparse
import hashlib
import os
import re
import sys

HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("repo_id")
    ap.add_argument("--revision", default="main")
    ap.add_argument("--files", default="")
    ap.add_argument("--hf", action="store_true")
    a = ap.parse_args()
    problems = []
    repo = os.path.join(a.cache, "models--" + a.repo_id.replace("/", "--"))
    for sub in ("blobs", "refs", "snapshots"):
        if not os.path.isdir(os.path.join(repo, sub)):
            problems.append("no %s/ in %s" % (sub, repo))
    ref = os.path.join(repo, "refs", a.revision)
    commit = open(ref).read() if os.path.isfile(ref) else ""
    if not HEX40.match(commit):
        problems.append("refs/%s holds %r, not a bare 40-hex commit" % (a.revision, commit))
    snap = os.path.join(repo, "snapshots", commit)
    files = [f for f in a.files.split(",") if f] or sorted(
        os.path.relpath(os.path.join(d, n), snap) for d, _, ns in os.walk(snap) for n in ns)
    for f in files:
        p = os.path.join(snap, f)
        if not os.path.islink(p):
            problems.append("%s is not a symlink" % f)
            continue
        target = os.readlink(p)
        want_prefix = "../" * (2 + f.count("/")) + "blobs/"
        if not target.startswith(want_prefix):
            problems.append("%s -> %s, not a relative link %s<etag>" % (f, target, want_prefix))
        etag = os.path.basename(target)
        blob = os.path.join(repo, "blobs", etag)
        if not os.path.isfile(blob) or os.path.realpath(p) != os.path.realpath(blob):
            problems.append("%s: blob %s missing" % (f, etag))
            continue
        data = open(blob, "rb").read()
        if HEX64.match(etag):
            ok = hashlib.sha256(data).hexdigest() == etag
        elif HEX40.match(etag):
            ok = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == etag
        else:
            ok = False
        if not ok:
            problems.append("%s: blob name %s is not its sha256 / git sha1" % (f, etag))
    leftovers = [n for n in os.listdir(os.path.join(repo, "blobs")) if n.endswith(".incomplete")] \
        if os.path.isdir(os.path.join(repo, "blobs")) else []
    if leftovers:
        problems.append("left in blobs/: %s" % ", ".join(leftovers))
    if a.hf:
        problems += hf_checks(a, commit, files)
    for p in problems:
        print("layout: " + p)
    print("layout: %d files checked, %s" % (len(files), "ok" if not problems else "%d problems" % len(problems)))
    return 1 if problems else 0


def hf_checks(a, commit, files):
    """The same cache through huggingface_hub's own eyes."""
    import huggingface_hub as hh
    out = []
    info = hh.scan_cache_dir(a.cache)
    repos = [r for r in info.repos if r.repo_id == a.repo_id and r.repo_type == "model"]
    if not repos:
        return ["huggingface_hub's scan_cache_dir does not list %s (warnings: %s)" % (a.repo_id, info.warnings)]
    revs = [r for r in repos[0].revisions if r.commit_hash == commit]
    if not revs:
        out.append("scan_cache_dir: no revision %s" % commit)
    else:
        if a.revision not in revs[0].refs:
            out.append("scan_cache_dir: revision %s lacks ref %s (refs %s)" % (commit, a.revision, revs[0].refs))
        names = sorted(str(f.file_path.relative_to(revs[0].snapshot_path)) for f in revs[0].files)
        if names != sorted(files):
            out.append("scan_cache_dir files %s != %s" % (names, sorted(files)))
    if info.warnings:
        out.append("scan_cache_dir warnings: %s" % info.warnings)
    for f in files:
        p = hh.hf_hub_download(a.repo_id, f, revision=a.revision, cache_dir=a.cache, local_files_only=True)
        if os.path.realpath(p) != os.path.realpath(os.path.join(a.cache, "models--" + a.repo_id.replace("/", "--"),
                                                                  "snapshots", commit, f)):
            out.append("hf_hub_download(local_files_only) gave %s for %s" % (p, f))
    print("layout: huggingface_hub %s agrees: scan_cache_dir and hf_hub_download(local_files_only=True)" % hh.__version__)
    return out


if __name__ == "__main__":
    sys.exit(main())
