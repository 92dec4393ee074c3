"""Network faults made with nftables (root only): a port whose packets vanish, so that a peer
disappears without a FIN or an RST, as when a machine or a link dies; a port whose connections
are reset, as by a firewall or a load balancer that forgot them."""
import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest

def _nft_works():
    """Root, the nft tool and a kernel that takes a table (a container without CAP_NET_ADMIN
    does not)."""
    if os.geteuid() != 0 or shutil.which("nft") is None:
        return False
    table = f"lt_probe_{os.getpid()}"
    made = subprocess.run(["nft", "add", "table", "inet", table], capture_output=True)
    subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
    return made.returncode == 0


def _netns_works():
    """Root and unshare(1): a network namespace of the test's own, whose sysctls (the local port
    range) nothing else on the machine shares."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


needs_netns = pytest.mark.skipif(
    not _netns_works(), reason="needs root and unshare(1) with network namespaces")


def in_netns(script, timeout):
    """Runs the bash `script` in a new network namespace with only its loopback up."""
    return subprocess.run(["unshare", "-n", "bash", "-ec", "ip link set lo up\n" + script],
                          capture_output=True, text=True, timeout=timeout)


needs_nft = pytest.mark.skipif(
    not _nft_works(),
    reason="needs root, nft (Debian nftables, which scripts/install-deps.sh installs) and "
           "nf_tables in the kernel")


@contextmanager
def _rules(port, *rules):
    """`rules` in an output chain of a table of its own, removed afterwards. Every loopback
    packet passes the output hook, so one chain sees both directions."""
    table = f"lt_test_{os.getpid()}_{port}"
    body = "".join(f"    {r}\n" for r in rules)
    text = (f"table inet {table} {{\n  chain out {{\n    type filter hook output priority 0;\n"
            f"{body}  }}\n}}\n")
    subprocess.run(["nft", "-f", "-"], input=text, text=True, check=True)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=False)


def blackhole(port):
    """Drops every TCP packet to or from `port`."""
    return _rules(port, f"tcp dport {port} drop", f"tcp sport {port} drop")


def reset(port):
    """Answers every TCP packet sent to `port` with an RST in the server's name: an open
    connection is reset the next time the client sends, and a new one is refused."""
    return _rules(port, f"tcp dport {port} reject with tcp reset")
