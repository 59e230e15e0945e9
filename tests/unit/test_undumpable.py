"""The gateway's /proc entries are closed to other processes of its user (app/core/undumpable.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import ctypes, ctypes.util
from app.core.undumpable import close_own_proc
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
before = libc.prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
close_own_proc()
print(before, libc.prctl(3, 0, 0, 0, 0))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_gateway_process_is_made_undumpable():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "0"]
