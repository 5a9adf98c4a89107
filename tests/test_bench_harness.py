"""The benchmark harness's own arithmetic (bench/run.py): the memory probe's replay of
an allocation record (``_peak_after_mark``), on records written by hand, and the timing's
paired ratios, on a clock driven by hand."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_run():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_run"]


def rec(kind, address, size=0):
    return kind, address, size


def test_peak_counts_only_what_the_steps_add(bench_run):
    mark = bench_run._MARK_BYTES
    records = [
        rec("MALLOC", 1, 5000),  # held before and through the steps: the baseline
        rec("MALLOC", 2, 700),
        rec("FREE", 2),
        rec("MALLOC", 3, mark),  # the marking block
        rec("FREE", 3),
        rec("MALLOC", 4, 300),  # step 1: 300 + 900 live at once
        rec("CALLOC", 5, 900),
        rec("FREE", 4),
        rec("FREE", 5),
        rec("POSIX_MEMALIGN", 6, 1000),  # step 2: 1000, then a realloc to 1500
        rec("FREE", 6),  # (memray: the old block's FREE first)
        rec("REALLOC", 6, 1500),
        rec("FREE", 6),
        rec("FREE", 1),  # a baseline block freed: the peak is not lowered after the fact
    ]
    assert bench_run._peak_after_mark(records) == 1500


def test_blocks_of_unknown_size_and_a_missing_mark(bench_run):
    mark = bench_run._MARK_BYTES
    records = [rec("FREE", 99), rec("MALLOC", 3, mark), rec("FREE", 3), rec("MMAP", 4, 4096)]
    assert bench_run._peak_after_mark(records) == 4096  # a free of an unknown block: ignored
    with pytest.raises(RuntimeError, match="marking block"):
        bench_run._peak_after_mark([rec("MALLOC", 1, 10), rec("FREE", 1)])


def test_timing_pairs_each_repetition_with_its_neighbour(bench_run, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(bench_run.time, "perf_counter", lambda: clock[0])
    # rnnkit's step takes 1, 1, 1, ... s; PyTorch's 2, 0.5, 2, 0.5, ... after the warm-ups
    torch_times = iter([9.0] + [2.0, 0.5] * 4)

    def fn_rnnkit():
        clock[0] += 1.0

    def fn_torch():
        clock[0] += next(torch_times)

    out = bench_run.timing(fn_rnnkit, fn_torch, reps=8, per=2)
    assert out["rnnkit"] == 0.5 and out["torch"] == pytest.approx(1.25 / 2)
    assert out["ratio"] == pytest.approx(1.25)
    assert out["spread"] == pytest.approx([0.5, 2.0])  # the warm-up's 9 s is left out
    few = bench_run.timing(fn_rnnkit, lambda: None, reps=3)
    assert "spread" not in few  # quartiles of three pairs say nothing
