"""The README's Python examples run as written (the namespace name aside) against the
kernel, in a namespace of the test's own."""

import os
import re
import subprocess

from conftest import BINDING_DIR, PYTHON, child_env
from test_neutron import create_three


def examples():
    with open(os.path.join(BINDING_DIR, "README.md")) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_readme_examples(netns):
    first, second = examples()[:2]

    create_three(netns, False, 10)
    code = first.replace('netns="blue"', "netns=%r" % netns.name)
    assert code != first
    p = subprocess.run([PYTHON, "-c", code], env=child_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, check=True)
    printed = sorted(p.stdout.splitlines())
    assert len(printed) == 3 and all("zone=10" in line for line in printed), p.stdout
    lines = netns.lines("-w", 10)
    assert len(lines) == 2 and not any(line.startswith("tcp") for line in lines)
    # Run again: the entry is gone, and the example says so.
    p = subprocess.run([PYTHON, "-c", code], env=child_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, check=True)
    assert "already gone: " in p.stdout

    # The Neutron example works in the current namespace: run it inside the test's one.
    netns.conntrack("-I", "-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "--state", "ESTABLISHED", "-t", 1234, "-w", 10)
    assert len(netns.lines("-w", 10)) == 3
    netns.python(second)
    lines = netns.lines("-w", 10)
    assert len(lines) == 2 and not any(line.startswith("tcp") for line in lines)
