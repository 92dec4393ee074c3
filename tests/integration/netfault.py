"""Network faults made with nftables (root only): a port whose packets vanish, so that a peer
disappears without a FIN or an RST, as when a machine or a link dies."""
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


needs_nft = pytest.mark.skipif(
    not _nft_works(),
    reason="needs root, nft (Debian nftables, which scripts/install-deps.sh installs) and "
           "nf_tables in the kernel")


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
