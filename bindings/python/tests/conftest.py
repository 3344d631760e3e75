"""Shared fixtures: a private network namespace per test, the `conntrack` tool inside it as
the independent oracle, and a way to run Python code inside it.

Every test that touches conntrack asks for the ``netns`` fixture: it makes a namespace
with a name unique to this process and test (``ip netns add``), and removes it after the
test whether it passed or failed (``ip netns del``). The host's table is never touched.
"""

import itertools
import os
import secrets
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING_DIR = os.path.dirname(HERE)  # bindings/python
REPO = os.path.dirname(os.path.dirname(BINDING_DIR))
IN_TREE_LIB = os.path.join(REPO, "build", "lib", "libconntrack.so.0")
PYTHON = sys.executable or "/usr/bin/python3"

if BINDING_DIR not in sys.path:
    sys.path.insert(0, BINDING_DIR)

_counter = itertools.count()


def child_env(**extra):
    """The environment for Python subprocesses: this package importable, and the same
    library as this process (CONNTRACK_LIBRARY when set)."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = BINDING_DIR + (os.pathsep + path if path else "")
    env.update(extra)
    return env


def run(args, check=True, **kw):
    """Runs a command, capturing text output; raises with its output when it fails."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(
            "command failed (%d): %s\nstdout: %s\nstderr: %s"
            % (p.returncode, " ".join(map(str, args)), p.stdout, p.stderr)
        )
    return p


class Netns:
    """A network namespace made for one test."""

    def __init__(self, name):
        self.name = name

    def exec_args(self, *args):
        return ["ip", "netns", "exec", self.name] + [str(a) for a in args]

    def run(self, *args, check=True, **kw):
        """Runs a command inside the namespace."""
        return run(self.exec_args(*args), check=check, **kw)

    def conntrack(self, *args, check=True):
        """Runs the conntrack tool inside the namespace; returns its stdout."""
        return self.run("conntrack", *args, check=check).stdout

    def lines(self, *args):
        """The entry lines `conntrack -L ARGS` prints (sorted)."""
        out = self.conntrack("-L", *args)
        return sorted(line for line in out.splitlines() if line.strip())

    def python(self, code, *args, check=True, env=None):
        """Runs `code` with this test's Python inside the namespace (so the binding's
        current-namespace functions work in it); returns the CompletedProcess."""
        return self.run(PYTHON, "-c", code, *args, check=check, env=env or child_env())


def _make_netns():
    name = "pyct-%d-%d-%s" % (os.getpid(), next(_counter), secrets.token_hex(3))
    run(["ip", "netns", "add", name])
    ns = Netns(name)
    # Counters and timestamps on (the sysctls appear once conntrack is loaded; the first
    # conntrack call loads it). Tests needing them check what they need.
    sysctls = ["sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1",
               "net.netfilter.nf_conntrack_timestamp=1"]
    if ns.run(*sysctls, check=False).returncode != 0:
        ns.run("conntrack", "-L", check=False)
        ns.run(*sysctls, check=False)
    return ns


@pytest.fixture
def netns():
    """A fresh network namespace, removed after the test (also when it fails)."""
    ns = _make_netns()
    try:
        yield ns
    finally:
        run(["ip", "netns", "del", ns.name], check=False)


@pytest.fixture
def ct(netns):
    """A Conntrack handle opened in the test's namespace."""
    import conntrack

    with conntrack.Conntrack(netns=netns.name) as handle:
        yield handle


def pytest_report_header(config):
    import conntrack

    return "libconntrack %s from %s; conntrack tool %s" % (
        conntrack.library_version(),
        conntrack.LIBRARY,
        shutil.which("conntrack"),
    )
