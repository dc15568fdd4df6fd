"""vs2_build — a PEP 517 build backend from the standard library alone, for the vs2 package.

Why not setuptools: pip builds in an isolated environment and installs the backend's "requires"
into it from the package index, so `pip install ./python` with setuptools needs the network (or
--no-build-isolation). This backend requires nothing. The package is pure Python (ctypes over
libvs2.so), so a wheel is a zip of vs2/*.py plus the standard metadata (PEP 427, PEP 566).

It also writes vs2/_checkout.py naming this checkout, so an installed package finds the
library built here (build/libvs2.so) as it does when run from the checkout itself.
"""
import base64
import hashlib
import io
import os
import tarfile
import time
import zipfile

try:
    import tomllib
except ImportError:  # Python < 3.11: the few keys we need, read by hand
    tomllib = None

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # python/
PACKAGE = "vs2"


def _project():
    path = os.path.join(HERE, "pyproject.toml")
    if tomllib:
        with open(path, "rb") as f:
            return tomllib.load(f)["project"]
    proj, section = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[project]" and "=" in line and line.split("=")[0].strip() in (
                    "name", "version", "description", "requires-python"):
                key, value = line.split("=", 1)
                proj[key.strip()] = value.strip().strip('"')
    return proj


def _metadata(proj):
    lines = ["Metadata-Version: 2.1", "Name: " + proj["name"], "Version: " + proj["version"]]
    if proj.get("description"):
        lines.append("Summary: " + proj["description"])
    if proj.get("requires-python"):
        lines.append("Requires-Python: " + proj["requires-python"])
    for c in proj.get("classifiers", []):
        lines.append("Classifier: " + c)
    for extra, reqs in proj.get("optional-dependencies", {}).items():
        lines.append("Provides-Extra: " + extra)
        lines += ['Requires-Dist: %s ; extra == "%s"' % (r, extra) for r in reqs]
    return "\n".join(lines) + "\n"


def _wheel_info():
    return "Wheel-Version: 1.0\nGenerator: vs2_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _dist_info(proj):
    return "%s-%s.dist-info" % (proj["name"].replace("-", "_"), proj["version"])


def _checkout_py():
    """vs2/_checkout.py: the checkout this package was built from, if it is one (has include/vs2.h)."""
    root = os.path.dirname(HERE)
    if not os.path.isfile(os.path.join(root, "include", "vs2.h")):
        root = None
    return ('"""Written by the build backend: the vs2 checkout this package was installed from."""\n'
            "SOURCE_DIR = %r\n" % root)


def _package_files():
    pkg = os.path.join(HERE, PACKAGE)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") and name != "_checkout.py":
            yield "%s/%s" % (PACKAGE, name), os.path.join(pkg, name)


class _Wheel:
    """A wheel being written: every file is hashed into RECORD."""

    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.record = []

    def add(self, arcname, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.record.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    def close(self, dist_info):
        record = dist_info + "/RECORD"
        self.record.append(record + ",,")
        self.zip.writestr(zipfile.ZipInfo(record, date_time=(2020, 1, 1, 0, 0, 0)),
                          "\n".join(self.record) + "\n")
        self.zip.close()


def _build(wheel_directory, editable):
    proj = _project()
    dist_info = _dist_info(proj)
    name = "%s-%s-py3-none-any.whl" % (proj["name"].replace("-", "_"), proj["version"])
    w = _Wheel(os.path.join(wheel_directory, name))
    if editable:
        # PEP 660: a .pth file puts python/ on sys.path; the package then finds the checkout itself.
        w.add("%s_editable.pth" % PACKAGE, HERE + "\n")
    else:
        for arcname, path in _package_files():
            with open(path, "rb") as f:
                w.add(arcname, f.read())
        w.add("%s/_checkout.py" % PACKAGE, _checkout_py())
    w.add(dist_info + "/METADATA", _metadata(proj))
    w.add(dist_info + "/WHEEL", _wheel_info())
    w.close(dist_info)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    proj = _project()
    d = os.path.join(metadata_directory, _dist_info(proj))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(proj))
    with open(os.path.join(d, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_info())
    return _dist_info(proj)


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=True)


def build_sdist(sdist_directory, config_settings=None):
    """The python/ directory as NAME-VERSION.tar.gz with PKG-INFO (the library is not included:
    an sdist installed elsewhere finds libvs2 through VS2_LIBRARY or the system)."""
    proj = _project()
    base = "%s-%s" % (proj["name"], proj["version"])
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        def add(arcname, data):
            info = tarfile.TarInfo("%s/%s" % (base, arcname))
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
        for rel in ["pyproject.toml", "build_backend/vs2_build.py"] + [a for a, _ in _package_files()]:
            with open(os.path.join(HERE, rel), "rb") as f:
                add(rel, f.read())
        add("PKG-INFO", _metadata(proj).encode("utf-8"))
    return name
