"""Where the library comes from: $CONNTRACK_LIBRARY, else libconntrack.so.0 through the
system loader (LD_LIBRARY_PATH, an installed copy), else the in-tree build. Each case
imports the package in a fresh Python process and reads /proc/self/maps to see which
file was really mapped."""

import os
import shutil
import subprocess

import pytest
from conftest import BINDING_DIR, IN_TREE_LIB, PYTHON

SHOW = r"""
import conntrack
maps = sorted({line.split()[-1] for line in open("/proc/self/maps")
               if "libconntrack" in line})
print(conntrack.LIBRARY)
print(maps[0] if len(maps) == 1 else maps)
print(conntrack.library_version())
"""


def base_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("CONNTRACK_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PYTHONPATH"] = BINDING_DIR
    return env


def import_with(env, package_dir=BINDING_DIR):
    env = dict(env, PYTHONPATH=package_dir)
    return subprocess.run([PYTHON, "-c", SHOW], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd="/")


def system_has_library():
    """Whether the system loader alone finds libconntrack.so.0 (an installed copy)."""
    p = subprocess.run([PYTHON, "-c", "import ctypes; ctypes.CDLL('libconntrack.so.0')"],
                       env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode == 0


@pytest.fixture
def lib_copy(tmp_path):
    """A copy of the in-tree library as tmp/libconntrack.so.0."""
    if not os.path.exists(IN_TREE_LIB):
        pytest.skip("no in-tree build (make lib)")
    dst = tmp_path / "libconntrack.so.0"
    shutil.copyfile(os.path.realpath(IN_TREE_LIB), dst)
    return dst


def test_env_var_names_the_file(lib_copy):
    p = import_with(dict(base_env(), CONNTRACK_LIBRARY=str(lib_copy)))
    assert p.returncode == 0, p.stderr
    loaded, mapped, version = p.stdout.split("\n")[:3]
    assert loaded == str(lib_copy) and mapped == str(lib_copy)
    assert version.split(".")[0] == "0"


def test_env_var_wins_over_loader_path(lib_copy, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(lib_copy, other / "libconntrack.so.0")
    env = dict(base_env(), CONNTRACK_LIBRARY=str(lib_copy), LD_LIBRARY_PATH=str(other))
    p = import_with(env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[1] == str(lib_copy)


def test_env_var_that_does_not_load_is_an_error(tmp_path):
    p = import_with(dict(base_env(), CONNTRACK_LIBRARY=str(tmp_path / "nope.so")))
    assert p.returncode != 0
    assert "ImportError" in p.stderr and "CONNTRACK_LIBRARY" in p.stderr
    # Not silently replaced by another copy even though the in-tree one exists.


def test_not_libconntrack_is_an_error():
    p = import_with(dict(base_env(), CONNTRACK_LIBRARY="libc.so.6"))
    assert p.returncode != 0 and "ImportError" in p.stderr and "lacks ct_" in p.stderr


def test_system_loader_uses_ld_library_path(lib_copy):
    p = import_with(dict(base_env(), LD_LIBRARY_PATH=str(lib_copy.parent)))
    assert p.returncode == 0, p.stderr
    loaded, mapped = p.stdout.split("\n")[:2]
    assert loaded == "libconntrack.so.0" and mapped == str(lib_copy)


def test_falls_back_to_the_in_tree_build():
    if not os.path.exists(IN_TREE_LIB):
        pytest.skip("no in-tree build (make lib)")
    if system_has_library():
        pytest.skip("an installed libconntrack.so.0 is found first")
    p = import_with(base_env())
    assert p.returncode == 0, p.stderr
    loaded, mapped = p.stdout.split("\n")[:2]
    assert loaded == os.path.normpath(IN_TREE_LIB)
    assert mapped == os.path.realpath(IN_TREE_LIB)


def test_nothing_found_says_what_to_do(tmp_path):
    if system_has_library():
        pytest.skip("an installed libconntrack.so.0 is found first")
    # The package outside the tree: no build/lib beside it.
    shutil.copytree(os.path.join(BINDING_DIR, "conntrack"), tmp_path / "conntrack")
    p = import_with(base_env(), package_dir=str(tmp_path))
    assert p.returncode != 0
    assert "ImportError" in p.stderr and "make lib" in p.stderr
