"""Network faults made with nftables (root only): a port whose packets vanish, so that a peer
disappears without a FIN or an RST, as when a machine or a link dies."""
import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest

needs_nft = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None,
    reason="needs root and nft (Debian nftables, which scripts/install-deps.sh installs)")


@contextmanager
def blackhole(port):
    """Drops every TCP packet to or from `port`, in a table of its own removed afterwards. Every
    loopback packet passes the output hook, so one chain covers both directions."""
    table = f"lt_test_{os.getpid()}_{port}"
    rules = (f"table inet {table} {{\n  chain out {{\n    type filter hook output priority 0;\n"
             f"    tcp dport {port} drop\n    tcp sport {port} drop\n  }}\n}}\n")
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=False)
