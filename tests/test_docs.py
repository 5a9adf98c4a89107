"""The documentation stays true to the code: the command-line reference is the parsers'
own help, and every public layer documents its arguments."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _public_layers():
    import rnnkit.layers as layers

    return [
        getattr(layers, name) for name in layers.__all__ if inspect.isclass(getattr(layers, name))
    ]


@pytest.mark.parametrize("cls", _public_layers(), ids=lambda c: c.__name__)
def test_public_layers_have_docstrings(cls):
    doc = inspect.getdoc(cls)
    assert doc and len(doc.splitlines()) >= 2, f"{cls.__name__} has no real docstring"
