"""End-to-end tests of the rnnkit command."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args, stdin=None):
    """Run ``python -m rnnkit.cli.main ARGS`` in a subprocess; returns the result."""
    return subprocess.run(
        [sys.executable, "-m", "rnnkit.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
