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


def test_readme_events_example(netns):
    events_example = examples()[2]
    netns.run("sysctl", "-qw", "net.netfilter.nf_conntrack_events=1")
    code = events_example.replace('netns="blue"', "netns=%r" % netns.name)
    # Says when it has subscribed (before that, the tool's entries would not be seen).
    code = code.replace(" as events:\n", " as events:\n    print('listening', flush=True)\n")
    assert code.count(netns.name) == 2 and "listening" in code
    p = subprocess.Popen([PYTHON, "-c", code], env=child_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "listening\n"
        udp = ["-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1, "--dport", 2]
        netns.conntrack("-I", *udp, "-t", 100, "-w", 11)
        netns.conntrack("-I", *udp, "-t", 100, "-w", 10)
        netns.conntrack("-D", *udp, "-w", 10)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith("new udp      17 ") and "zone=10" in lines[0]
    assert lines[1].startswith("destroy udp      17 ") and "zone=10" in lines[1]
