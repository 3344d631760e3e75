"""`pip install bindings/python` in a fresh virtual environment, with no network: the
package installs with its own build backend (no build dependencies), and the installed
copy finds the library; a wheel built with CONNTRACK_BUNDLE_LIBRARY holds the library and
loads its own copy."""

import os
import subprocess
import sys

import pytest
from conftest import BINDING_DIR, IN_TREE_LIB

SHOW = ("import conntrack; print(conntrack.LIBRARY); print(conntrack.library_version()); "
        "print(conntrack.Entry(proto='udp', orig_src='1.1.1.1', orig_dst='2.2.2.2', "
        "orig_sport=1, orig_dport=2, timeout=5).format())")


def venv(path):
    """A fresh virtual environment of Debian's Python (python3-venv); its python."""
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(path)], check=True)
    return os.path.join(str(path), "bin", "python")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("CONNTRACK_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH",
                        "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index, no extra links: only what is given
    env.update(extra)
    return env


def pip(python, *args, env=None):
    p = subprocess.run([python, "-m", "pip", "--disable-pip-version-check", *args,
                        "--no-index"], env=env or clean_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout
    return p.stdout


def show(python):
    p = subprocess.run([python, "-c", SHOW], env=clean_env(), cwd="/",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


@pytest.fixture
def built():
    if not os.path.exists(IN_TREE_LIB):
        pytest.skip("no in-tree build (make lib)")
    if subprocess.run(["/usr/bin/python3", "-c", "import ensurepip"]).returncode != 0:
        pytest.skip("python3-venv is not installed")


def test_pip_install_in_a_fresh_venv_finds_the_tree_library(built, tmp_path):
    python = venv(tmp_path / "venv")
    pip(python, "install", BINDING_DIR)
    loaded, version, text = show(python)[:3]
    assert os.path.realpath(loaded) == os.path.realpath(IN_TREE_LIB)
    assert version.split(".")[0] == "0"
    assert text.startswith("udp      17 5 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2")
    # The installed copy is not the tree's package.
    where = subprocess.run([python, "-c", "import conntrack; print(conntrack.__file__)"],
                           env=clean_env(), cwd="/", stdout=subprocess.PIPE, text=True)
    assert str(tmp_path) in where.stdout


def test_wheel_bundles_the_library(built, tmp_path):
    python = venv(tmp_path / "venv")
    wheels = tmp_path / "wheels"
    pip(python, "wheel", "-w", str(wheels), BINDING_DIR,
        env=clean_env(CONNTRACK_BUNDLE_LIBRARY=os.path.realpath(IN_TREE_LIB)))
    (wheel,) = os.listdir(wheels)
    assert wheel.startswith("conntrack-0.1.0-py3-none-linux_")
    other = venv(tmp_path / "other")
    pip(other, "install", str(wheels / wheel))
    loaded, version, text = show(other)[:3]
    assert loaded == os.path.join(str(tmp_path), "other", "lib",
                                  "python%d.%d" % sys.version_info[:2], "site-packages",
                                  "conntrack", "libconntrack.so.0")
    assert version.split(".")[0] == "0" and text.startswith("udp ")
    # A relative bundle path is refused (pip builds in another directory).
    p = subprocess.run([python, "-m", "pip", "wheel", "--no-index", "-w", str(wheels),
                        BINDING_DIR], env=clean_env(CONNTRACK_BUNDLE_LIBRARY="build/lib/x"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode != 0 and "absolute path" in p.stdout
