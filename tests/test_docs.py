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


# The modules whose public classes and functions meet the docstring bar: a summary,
# Args when they take arguments, and an example that runs (checked by doctest below).
DOCUMENTED_MODULES = [
    "rnnkit.activations",
    "rnnkit.constraints",
    "rnnkit.regularizers",
    "rnnkit.initializers",
    "rnnkit.losses",
    "rnnkit.metrics",
    "rnnkit.optimizers",
    "rnnkit.layers.core",
    "rnnkit.layers.pooling",
    "rnnkit.layers.convolutional",
    "rnnkit.layers.normalization",
    "rnnkit.layers.embedding",
    "rnnkit.layers.attention",
    "rnnkit.layers.wrappers",
    "rnnkit.layers.input_layer",
    "rnnkit.preprocessing.text",
    "rnnkit.preprocessing.sequence",
    "rnnkit.generation",
    "rnnkit.wrappers.scikit_learn",
    "rnnkit.utils.gradient_check",
    "rnnkit.utils.io",
    "rnnkit.utils.linalg",
    "rnnkit.utils.registry",
    "rnnkit.utils.np_utils",
    "rnnkit.utils.timeseries",
    "rnnkit.utils.validation",
    "rnnkit.distributed.mpi",
    "rnnkit.distributed.sweeps",
    "rnnkit.datasets.synthetic",
    "rnnkit.datasets.tasks",
    "rnnkit.datasets.seq2seq",
    "rnnkit.datasets.reuters",
    "rnnkit.datasets.shakespeare",
    "rnnkit.datasets",
    "rnnkit.layers.recurrent",
    "rnnkit.cells.base",
    "rnnkit.cells.simple_rnn",
    "rnnkit.cells.lstm",
    "rnnkit.cells.gru",
    "rnnkit.layers.base",
    "rnnkit.interop.onnx",
    "rnnkit.interop.keras_files",
    "rnnkit.runs",
    "rnnkit.diagnostics",
    "rnnkit.plotting",
    "rnnkit.callbacks",
    "rnnkit.backend",
    "rnnkit.models.functional",
    "rnnkit.models.sequential",
    "rnnkit.models.esn",
    "rnnkit.models.checkpoint",
]


def _public_names(module_name):
    import importlib

    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    found = []
    for name in names:
        obj = getattr(module, name)
        # aliases (max_norm = MaxNorm) are the same object, checked once under its own name
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__name__ == name:
            # a package's names re-exported from its private modules count as its own
            if obj.__module__ == module_name or obj.__module__.startswith(module_name + "._"):
                found.append(obj)
    return found


def _takes_arguments(obj):
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return any(
        p.name not in ("self", "cls") and p.kind is not inspect.Parameter.VAR_KEYWORD
        for p in signature.parameters.values()
    )


@pytest.mark.parametrize(
    "obj",
    [obj for module in DOCUMENTED_MODULES for obj in _public_names(module)],
    ids=lambda o: f"{o.__module__}.{o.__qualname__}",
)
def test_public_names_have_full_docstrings(obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{obj.__qualname__} has no docstring"
    lines = doc.splitlines()
    assert lines[0].strip(), f"{obj.__qualname__}: the docstring opens without a summary"
    assert "Example:" in doc or ">>>" in doc, f"{obj.__qualname__} has no example"
    if _takes_arguments(obj):
        # a record class (dataclass, named tuple) documents its fields as Attributes
        documented = "Args:" in doc or (inspect.isclass(obj) and "Attributes:" in doc)
        assert documented, f"{obj.__qualname__} takes arguments but has no Args section"


@pytest.mark.parametrize("module_name", DOCUMENTED_MODULES)
def test_docstring_examples_run(module_name):
    import doctest
    import importlib

    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} example(s) in {module_name} failed"
