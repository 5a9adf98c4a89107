"""The benchmark harness's own arithmetic (bench/run.py): the memory probe's replay of
an allocation record (``_peak_after_mark``), on records written by hand, and the timing's
paired ratios, on a clock driven by hand."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
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


# ---- thread counts, peers, and the report ------------------------------------------------
def test_default_threads_are_one_and_all_cores(bench_run, monkeypatch):
    monkeypatch.setattr(bench_run, "all_cores", lambda: 4)
    assert bench_run.default_threads() == [1, 4]
    monkeypatch.setattr(bench_run, "all_cores", lambda: 1)
    assert bench_run.default_threads() == [1]
    with pytest.raises(SystemExit):
        bench_run.main(["--threads", "0", "--no-write"])


def test_set_threads_gives_rnnkit_and_torch_the_count(bench_run, monkeypatch):
    torch = pytest.importorskip("torch")
    import rnnkit
    from rnnkit import backend
    from rnnkit.layers.recurrent import RNN

    calls = []
    before = torch.get_num_threads()
    monkeypatch.setattr(RNN, "blas_threads", RNN.blas_threads)
    try:
        monkeypatch.setattr(rnnkit, "set_num_threads", calls.append, raising=False)
        with bench_run.set_threads(1):
            assert torch.get_num_threads() == 1
        assert calls == [1] and RNN.blas_threads is None
        # an rnnkit without set_num_threads: its layers' BLAS policy instead
        monkeypatch.delattr(rnnkit, "set_num_threads")
        monkeypatch.delattr(backend, "set_num_threads", raising=False)
        with bench_run.set_threads(1):
            assert RNN.blas_threads == 1
        with bench_run.set_threads(2):
            assert RNN.blas_threads is None and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_jax_env_switches_eigen_threads_off_only_at_one_thread(bench_run, monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/nowhere")
    one = bench_run.jax_env(1)
    assert one["KERAS_BACKEND"] == "jax" and one["JAX_PLATFORMS"] == "cpu"
    assert one["XLA_FLAGS"].startswith("--xla_dump_to=/nowhere ")  # the user's flags kept
    assert "--xla_cpu_multi_thread_eigen=false" in one["XLA_FLAGS"]
    assert "XLA_FLAGS" not in bench_run.jax_env(2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_onnxruntime_runs_the_same_layer_as_pytorch(bench_run, kind):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    mod = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    tmod = mod(3, 5, batch_first=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    x1 = rng.standard_normal((6, 1, 3)).astype(np.float32)
    infer, stream = bench_run.onnx_pair(kind, tmod, x, x1, 5, threads=1)  # checks infer
    state = stream()
    with torch.no_grad():
        _, ref = tmod(torch.from_numpy(x1.reshape(1, 6, 3)))
    ref = ref if kind == "LSTM" else (ref,)
    assert len(state) == len(ref)
    for got, want in zip(state, ref):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


def _timing(rnnkit, peer):
    return {"rnnkit": rnnkit, "torch": peer, "ratio": peer / rnnkit, "spread": [0.9, 1.2]}


def test_report_shows_both_thread_counts_the_cpu_the_kernel_and_every_peer(bench_run, tmp_path):
    kernel = {"accelerator": "numba", "kernel": "generic", "cpu": "znver3", "ran": {}}
    rows = []
    for threads in (1, 2):
        rows.append(
            {
                "threads": threads,
                "cell": "LSTM",
                "shape": "small",
                "dims": (50, 32, 64, 128),
                "train": _timing(0.010, 0.015 * threads),
                "infer": _timing(0.002, 0.003),
                "infer_ort": _timing(0.002, 0.0025),
                "stream": _timing(10e-6, 60e-6),
                "stream_ort": _timing(10e-6, 20e-6),
                "kernel": {**kernel, "ran": {"lstm.forward": "numba-generic"}},
            }
        )
        rows.append(
            {
                "threads": threads,
                "cell": "LSTM",
                "shape": "embedding",
                "info": {
                    "samples": 256,
                    "batch": 32,
                    "max_len": 100,
                    "vocab": 30000,
                    "keras": "Keras 3 on jax 0.1",
                    "affinity": threads,
                },
                "train_keras": _timing(0.5, 0.7),
                "kernel": {**kernel, "ran": {"lstm.backward": "numpy (a reason)"}},
            }
        )
    info = {
        "cpu": "Some CPU (family 1, model 2)",
        "cores": 2,
        "blas": ["openblas"],
        "python": "3",
        "numpy": "2",
        "torch": "2",
        "peers": "onnxruntime 1, keras 3, jax 0.1",
        "kernel": kernel,
        "load_before": (0.1, 0.1, 0.1),
        "load_after": (0.2, 0.1, 0.1),
        "started": "now",
        "seconds": 1.0,
    }
    out = tmp_path / "B.md"
    bench_run.write_markdown(out, rows, info, "bench/run.py")
    text = out.read_text()
    assert "## 1 thread\n" in text and "## 2 threads (all cores)" in text
    assert "Some CPU (family 1, model 2)" in text
    assert "accelerator numba, kernel generic, cpu znver3" in text
    assert (
        "ran lstm.backward: numpy (a reason)" in text and "ran lstm.forward: numba-generic" in text
    )
    assert "onnxruntime 1, keras 3, jax 0.1" in text
    # train ratios 1.5 and 3.0; onnxruntime columns and summaries; the Keras table
    assert "**1.50** (0.90-1.20)" in text and "**3.00** (0.90-1.20)" in text
    assert "| 2.50 | **1.25** |" in text and "| 20.0 | **2.00** |" in text
    assert "1.25 against onnxruntime" in text and "2.00 to 2.00 against onnxruntime" in text
    assert text.count("Against Keras 3 on JAX") == 2 and "| 0.50 | 0.70 | **1.40**" in text
    assert "shared with other jobs" not in text
