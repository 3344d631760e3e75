"""The package's own PEP 517 build backend: standard library only, so that
``pip install bindings/python`` works in a fresh virtual environment without a network
(nothing to fetch for the build) and without setuptools or wheel.

It builds a wheel of the ``conntrack`` package. With the environment variable
``CONNTRACK_BUNDLE_LIBRARY`` naming a built ``libconntrack.so.0`` by its absolute path
(e.g. ``$PWD/build/lib/libconntrack.so.0``), the wheel holds that file as
``conntrack/libconntrack.so.0``, which the package loads before the system's, and the
wheel is tagged for this platform; otherwise it is a pure ``py3-none-any`` wheel that
finds the library as ``conntrack._lib`` says.
"""

import base64
import hashlib
import io
import os
import sysconfig
import tarfile
import zipfile

NAME = "conntrack"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bindings/python
BUNDLE_ENV = "CONNTRACK_BUNDLE_LIBRARY"
BUNDLED_NAME = "libconntrack.so.0"
# Fixed timestamps: the same inputs make the same wheel.
EPOCH = (2020, 1, 1, 0, 0, 0)


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (
        "Metadata-Version: 2.1\n"
        "Name: %s\n"
        "Version: %s\n"
        "Summary: Linux conntrack (ctnetlink) from Python: a ctypes binding of libconntrack\n"
        "License: MIT\n"
        "Requires-Python: >=3.8\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Classifier: Operating System :: POSIX :: Linux\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Classifier: Topic :: System :: Networking :: Firewalls\n"
        "Description-Content-Type: text/markdown\n"
        "\n%s" % (NAME, VERSION, readme)
    )


def _sources():
    """(path in the wheel, bytes) of the package's modules."""
    pkg = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") and name != "_tree.py":
            with open(os.path.join(pkg, name), "rb") as f:
                yield "%s/%s" % (NAME, name), f.read()


def _tree_module():
    """conntrack/_tree.py: where the checkout this wheel was built from keeps its library
    (build/lib at its top), the last place an installed copy looks."""
    top = os.path.dirname(os.path.dirname(HERE))
    lib = os.path.join(top, "build", "lib", BUNDLED_NAME)
    if not os.path.exists(os.path.join(top, "Cargo.toml")):
        return None  # not built from a checkout (an sdist, say)
    return ('"""Written by the build: the library of the checkout this copy was built '
            'from."""\n\nBUILD_TREE_LIBRARY = %r\n' % lib).encode()


def _bundled():
    path = os.environ.get(BUNDLE_ENV)
    if not path:
        return None
    if not os.path.isabs(path):
        # pip runs the build from another directory: a relative name would mislead.
        raise ValueError("%s must be an absolute path, not %r" % (BUNDLE_ENV, path))
    with open(os.path.realpath(path), "rb") as f:
        return f.read()


def _tag(bundled):
    if bundled is None:
        return "py3-none-any"
    return "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def _dist_info_files(tag, bundled):
    info = "%s-%s.dist-info" % (NAME, VERSION)
    files = [
        ("%s/METADATA" % info, _metadata().encode()),
        ("%s/WHEEL" % info, (
            "Wheel-Version: 1.0\nGenerator: conntrack-backend\nRoot-Is-Purelib: %s\nTag: %s\n"
            % ("true" if bundled is None else "false", tag)).encode()),
        ("%s/top_level.txt" % info, b"conntrack\n"),
    ]
    with open(os.path.join(HERE, "LICENSE"), "rb") as f:
        files.append(("%s/LICENSE" % info, f.read()))
    return info, files


def _zip_write(zf, path, data, mode=0o644):
    zi = zipfile.ZipInfo(path, EPOCH)
    zi.external_attr = (mode | 0o100000) << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(zi, data)


# -- PEP 517 hooks ----------------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    bundled = _bundled()
    info, files = _dist_info_files(_tag(bundled), bundled)
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for path, data in files:
        with open(os.path.join(metadata_directory, path), "wb") as f:
            f.write(data)
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    bundled = _bundled()
    tag = _tag(bundled)
    info, meta = _dist_info_files(tag, bundled)
    name = "%s-%s-%s.whl" % (NAME, VERSION, tag)
    files = list(_sources())
    tree = _tree_module()
    if tree is not None:
        files.append(("%s/_tree.py" % NAME, tree))
    if bundled is not None:
        files.append(("%s/%s" % (NAME, BUNDLED_NAME), bundled))
    files.extend(meta)
    record = [_record_line(p, d) for p, d in files] + ["%s/RECORD,," % info]
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files:
            _zip_write(zf, path, data, 0o755 if path.endswith(".so.0") else 0o644)
        _zip_write(zf, "%s/RECORD" % info, ("\n".join(record) + "\n").encode())
    return name


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for rel in ["pyproject.toml", "README.md", "LICENSE", "_build/backend.py"] + [
                p for p, _ in _sources()]:
            tf.add(os.path.join(HERE, rel), arcname="%s/%s" % (base, rel))
        pkg_info = _metadata().encode()
        ti = tarfile.TarInfo("%s/PKG-INFO" % base)
        ti.size = len(pkg_info)
        tf.addfile(ti, io.BytesIO(pkg_info))
    return name
