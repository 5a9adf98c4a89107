"""rnnkit against PyTorch, side by side, one process per row; rewrites BENCHMARKS.md.

    PYTHONPATH=src python bench/run.py                 # all, 1 thread and all cores
    PYTHONPATH=src python bench/run.py --threads 1     # one thread count
    PYTHONPATH=src python bench/run.py --quick --no-write   # a smoke test, a few minutes
    PYTHONPATH=src python bench/run.py --quick --no-write --shapes small --cells LSTM

Each thread count (by default 1 and every core this process may use) gives both
libraries the same count: ``torch.set_num_threads``, ``rnnkit.set_num_threads`` (where
this rnnkit has it; before, its recurrent layers' BLAS policy) and threadpoolctl's limit
on NumPy's BLAS; onnxruntime's ``intra_op_num_threads``; for JAX, whose CPU thread pool
has no setting, the row's process is pinned to that many cores (``sched_setaffinity``)
and at 1 thread XLA's multi-threaded Eigen is switched off.

For each cell (SimpleRNN / LSTM / GRU) and shape (T time steps, B batch, I input, H
hidden) it times, with both libraries running the same work on the same thread count:

- train: one training step of a single recurrent layer returning the whole sequence:
  forward, BPTT against a fixed dL/dy (dL/dx included, as for a layer inside a network),
  and an Adam update;
- infer: the forward pass over the whole sequence, no gradient bookkeeping;
- stream: batch 1, one step at a time with the state carried (rnnkit ``RNN.step``,
  PyTorch one module call on a (1, 1, I) input with the state passed in), per step.

Inference and streaming also run against onnxruntime (where it is installed): PyTorch's
``torch.onnx.export`` of the same module with the same weights (ONNX's RNN / LSTM / GRU
operators; for streaming a graph of one step taking and returning the state), run by an
``InferenceSession`` on the CPU provider with ``intra_op_num_threads`` = the row's
thread count, interleaved with rnnkit the same way. The session stops its threads'
spinning when a ``run`` returns (onnxruntime's ``session.force_spinning_stop``): by
default they spin on for up to about 0.1 s, on the cores the next call needs, and at
2 threads the rnnkit call after one then took twice its time (LSTM, lm shape: 58 ms
against 31), while onnxruntime's own calls, back to back, take about what they take
with spinning (27.1 ms against 28.7; bench/NOTES.md section 19). The other way round,
numba's OpenMP workers spin for a few ms after rnnkit's call, on the cores of
onnxruntime's next: in these pairings each timed call follows 30 ms of untimed calls of
its own library (``ORT_SETTLE_S``), so that each is timed as its back-to-back calls run.
PyTorch needs none: here it runs on the same OpenMP pool as numba.

Repetitions are interleaved (rnnkit, torch, torch, rnnkit, ...) after a warm-up, and the
table shows medians and the ratio PyTorch time / rnnkit time (> 1: rnnkit faster), and for
training the quartiles of the repetitions' paired ratios (how far this machine's noise
moves a ratio; a row whose quartiles lie on both sides of 1.0 is named as a tie). Each
row is timed in a process of its own (``--one-process``: all in this one): PyTorch makes
its per-step tensors anew, and what it pays for them in page faults depends on the state
that earlier rows left glibc's allocator in (bench/NOTES.md, sessions 7-8).

Peak memory of a training step is measured for each library in its own process, over two
steps after a warm-up step, from a state with the weights, gradients and optimizer slots
but no activations kept (rnnkit's layers keep their last forward pass's buffers, which the
probe drops first, as PyTorch frees its graph) and no dL/dx of the previous step
(PyTorch's x.grad, dropped likewise). By default (``--memory-method allocated``) it is the
peak of the bytes held in live allocations: memray records every malloc, calloc, realloc,
aligned allocation and free of the process (NumPy's, PyTorch's, numba's, Python's own
through PYTHONMALLOC=malloc), and the probe replays them. The peak growth of the
resident set is measured too (alone with ``--memory-method rss``), with glibc told to map
every block of ``--mmap-threshold`` bytes or more on its own; smaller blocks come from heap
memory already resident and do not show (at the seeds shape, PyTorch's per-step tensors of
9.8 KiB). The table shows allocated bytes; a line under it names the rows where the
resident set puts rnnkit above PyTorch.

The Reuters row trains one epoch of the default ``rnnkit reuters`` model (bidirectional
GRU over an embedding, concat pooling, dropout, softmax; Adam with global clipping) in
rnnkit, and of its PyTorch twin (bench/torch_twins.py) on the same batches.

The embedding row trains one epoch of bench/embedding_classifier.py's classifier
(Embedding(30000, 64, mask_zero) + LSTM(64) + softmax, Adam with global clipping, on
Reuters wires) in rnnkit and in Keras 3 on JAX (CPU, ``jit_compile`` as Keras defaults),
the same data and batches; its ratio is Keras time / rnnkit time.

The machine section names the CPU and what ran rnnkit's recurrent layers
(``rnnkit.backend.kernel_info()`` where this rnnkit has it, read in each row's process
after its timings).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

CELLS = ("SimpleRNN", "LSTM", "GRU")
SHAPES = {  # name: (T, B, I, H)
    "seeds": (49, 50, 1, 50),
    "small": (50, 32, 64, 128),
    "lm": (35, 20, 650, 650),
    "large": (100, 64, 512, 512),
    "long": (1000, 8, 64, 128),
}
# repetitions per shape (timed, after one warm-up); the big shapes take ~1 s a step
REPS = {"seeds": 21, "small": 21, "lm": 9, "large": 5, "long": 7}
STREAM_STEPS = 300
QUICK_SHAPES = ("seeds", "small")  # --quick's default shapes
QUICK_SCALE = 0.2  # --quick's repetitions, a fraction of REPS (4 at seeds: quartiles)


# ---- the two sides of one benchmark ----------------------------------------------------
def _keras_from_torch(kind: str, module, units: int) -> list[np.ndarray]:
    """PyTorch's (weight_ih, weight_hh, bias_ih, bias_hh) in rnnkit's Keras layout."""
    w_ih = module.weight_ih_l0.detach().numpy()
    w_hh = module.weight_hh_l0.detach().numpy()
    b_ih = module.bias_ih_l0.detach().numpy()
    b_hh = module.bias_hh_l0.detach().numpy()
    order = np.arange(w_ih.shape[0])
    if kind == "GRU":  # PyTorch r, z, n; Keras z, r, h
        u = units
        order = np.concatenate([np.arange(u, 2 * u), np.arange(u), np.arange(2 * u, 3 * u)])
    kernel, recurrent = w_ih[order].T.copy(), w_hh[order].T.copy()
    if kind == "GRU":
        bias = np.stack([b_ih[order], b_hh[order]])
    else:
        bias = b_ih + b_hh
    return [kernel, recurrent, bias]


class _OneStep:
    """A PyTorch RNN module as one streaming step for the ONNX export: (x, h[, c]) to
    (y, h[, c]), the state passed in and out explicitly."""

    def __new__(cls, module, lstm: bool):
        import torch

        class Step(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.module = module

            def forward(self, x, h, c=None):
                if lstm:
                    y, (h, c) = self.module(x, (h, c))
                    return y, h, c
                y, h = self.module(x, h)
                return y, h

        return Step()


ORT_FORCE_SPINNING_STOP = "1"  # (bench/thread_handover.py --ort sets "0" to compare)
# each timed call of an onnxruntime pairing follows this long of its own library's calls
# (``interleaved``'s ``settle``): numba's OpenMP workers spin for a few ms after
# rnnkit's call, on the cores of onnxruntime's next (its own thread pool, not OpenMP:
# at 2 threads, LSTM seeds, 1.27-1.29 ms interleaved against 0.68-0.71 back to back;
# bench/NOTES.md section 19). PyTorch runs on the same OpenMP pool as numba here.
ORT_SETTLE_S = 0.03


def ort_session(module, args, input_names, output_names, threads: int):
    """onnxruntime's session (CPU provider, ``threads`` intra-op threads, sequential
    execution) for PyTorch's ONNX export of ``module`` called on ``args``."""
    import io
    import warnings

    import onnxruntime as ort
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():  # (the TorchScript exporter's deprecation notices)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, args, buf, input_names=input_names, output_names=output_names, dynamo=False
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # threads spin within a run and stop when it returns, not into the next library's
    # call (the module's docstring)
    options.add_session_config_entry("session.force_spinning_stop", ORT_FORCE_SPINNING_STOP)
    return ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])


def onnx_pair(kind: str, tmod, x, x1, units: int, threads: int):
    """onnxruntime's (infer, stream) for the PyTorch module ``tmod`` (the same work as
    ``make_pair``'s), checked against PyTorch; None where onnxruntime is missing."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    import torch

    lstm = kind == "LSTM"
    xt = torch.from_numpy(x)
    whole = ort_session(tmod, (xt,), ["x"], ["y"], threads)
    with torch.no_grad():
        ref = tmod(xt)[0].numpy()
    err = float(np.max(np.abs(whole.run(None, {"x": x})[0] - ref)))
    if err > 1e-3:
        raise AssertionError(f"{kind}: onnxruntime and PyTorch outputs differ by {err}")

    h0 = torch.zeros(1, 1, units)
    args = (torch.from_numpy(x1[0][None]), h0, h0) if lstm else (torch.from_numpy(x1[0][None]), h0)
    names_in = ["x", "h", "c"] if lstm else ["x", "h"]
    names_out = ["y", "h_out", "c_out"] if lstm else ["y", "h_out"]
    step = ort_session(_OneStep(tmod, lstm), args, names_in, names_out, threads)
    x1s = [np.ascontiguousarray(x1[t][None]) for t in range(len(x1))]  # (1, 1, I) each

    def o_infer():
        whole.run(None, {"x": x})

    def o_stream():
        state = [np.zeros((1, 1, units), np.float32) for _ in names_in[1:]]
        for xs in x1s:
            out = step.run(None, dict(zip(names_in, [xs, *state])))
            state = out[1:]
        return state  # (for the harness's tests)

    return o_infer, o_stream


def make_pair(kind: str, shape, seed: int = 0, threads: int = 1, with_onnx: bool = False):
    """Equal rnnkit and PyTorch layers (same weights) and the inputs of one benchmark;
    with ``with_onnx``, onnxruntime's inference and streaming too (where installed, on
    ``threads`` intra-op threads)."""
    import torch

    from rnnkit import layers, optimizers

    steps, batch, n_in, units = shape
    torch.manual_seed(seed)
    tmod = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind](
        n_in, units, batch_first=True
    )
    layer = getattr(layers, kind)(units, return_sequences=True)
    layer.ensure_built((steps, n_in))
    layer.set_weights(_keras_from_torch(kind, tmod, units))

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, n_in)).astype(np.float32)
    # float32, as a float32 model's loss gradient is (a NumPy float64 scalar would
    # promote the array to float64, and each library would first cast it back)
    dy = (rng.standard_normal((batch, steps, units)) / np.sqrt(batch * steps)).astype(np.float32)
    xt, dyt = torch.from_numpy(x.copy()).requires_grad_(True), torch.from_numpy(dy.copy())

    # sanity: the two compute the same function
    with torch.no_grad():
        ref = tmod(xt)[0].numpy()
    got = layer.forward(x, training=False)
    err = float(np.max(np.abs(got - ref)))
    if err > 1e-3:
        raise AssertionError(f"{kind} {shape}: rnnkit and PyTorch outputs differ by {err}")

    r_opt = optimizers.Adam(learning_rate=1e-4)
    t_opt = torch.optim.Adam(tmod.parameters(), lr=1e-4)
    names = list(layer.params)

    def r_train():
        layer.forward(x, training=True)
        layer.backward(dy)
        r_opt.apply([layer.params[k] for k in names], [layer.grads[k] for k in names])

    def t_train():
        t_opt.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = tmod(xt)
        out.backward(dyt)
        t_opt.step()

    def r_infer():
        layer.forward(x, training=False)

    def t_infer():
        with torch.no_grad():
            tmod(xt)

    x1 = rng.standard_normal((STREAM_STEPS, 1, n_in)).astype(np.float32)
    x1t = torch.from_numpy(x1.copy()).unsqueeze(1)  # (steps, 1, 1, I)
    n_states = 2 if kind == "LSTM" else 1

    def r_stream():
        states = [np.zeros((1, units), np.float32) for _ in range(n_states)]
        step = layer.step
        for t in range(STREAM_STEPS):
            _, states = step(x1[t], states)

    def t_stream():
        h = torch.zeros(1, 1, units)
        state = (h, torch.zeros(1, 1, units)) if kind == "LSTM" else h
        with torch.no_grad():
            for t in range(STREAM_STEPS):
                _, state = tmod(x1t[t], state)

    def t_release():  # dL/dx of the last step, which rnnkit's r_train does not keep
        xt.grad = None

    pair = {
        "layer": layer,
        "release": (lambda: None, t_release),
        "train": (r_train, t_train),
        "infer": (r_infer, t_infer),
        "stream": (r_stream, t_stream),
    }
    ort_fns = onnx_pair(kind, tmod, x, x1, units, threads) if with_onnx else None
    if ort_fns is not None:
        pair["infer_ort"] = (r_infer, ort_fns[0])
        pair["stream_ort"] = (r_stream, ort_fns[1])
    return pair


# ---- timing ------------------------------------------------------------------------------
def interleaved(
    fn_a, fn_b, reps: int, pair_ratios: list | None = None, settle: float = 0.0
) -> tuple[float, float]:
    """Median seconds of fn_a and fn_b, one warm-up each, then alternating order.
    ``pair_ratios``, if given, receives time_b / time_a of each repetition's pair (the
    two calls side by side, so both saw about the same machine). With ``settle``
    (seconds), each timed call follows untimed calls of its own function for that long
    (at least one): threads the other left spinning have stopped, and this one's own
    are as its back-to-back calls find them."""
    fn_a()
    fn_b()
    ta, tb = [], []
    for i in range(reps):
        pair = ((fn_a, ta), (fn_b, tb)) if i % 2 == 0 else ((fn_b, tb), (fn_a, ta))
        for fn, out in pair:
            if settle > 0.0:
                until = time.perf_counter() + settle
                fn()
                while time.perf_counter() < until:
                    fn()
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    if pair_ratios is not None:
        pair_ratios.extend(b / a for a, b in zip(ta, tb))
    return statistics.median(ta), statistics.median(tb)


def timing(fn_rnnkit, fn_torch, reps: int, per: int = 1, settle: float = 0.0) -> dict:
    """One column of a row: medians (seconds, divided by ``per``), their ratio PyTorch /
    rnnkit, and the quartiles of the repetitions' paired ratios (the spread the median
    ratio comes with on this machine; ``spread`` needs at least 4 repetitions)."""
    ratios: list[float] = []
    tr, tt = interleaved(fn_rnnkit, fn_torch, reps, ratios, settle)
    out = {"rnnkit": tr / per, "torch": tt / per, "ratio": tt / tr}
    if len(ratios) >= 4:
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        out["spread"] = [q1, q3]
    return out


def set_threads(n: int):
    """Both libraries on ``n`` threads: ``torch.set_num_threads(n)``,
    ``rnnkit.set_num_threads(n)`` (the compiled loop's pool and BLAS) and threadpoolctl's
    limit on every BLAS pool of the process. An rnnkit without ``set_num_threads``
    limited BLAS in its recurrent layers to ``RNN.blas_threads`` (1, the thread policy);
    there that policy is switched off for n > 1 so that both sides really run on n
    threads. Returns threadpoolctl's limiter (a context manager)."""
    import torch
    from threadpoolctl import threadpool_limits

    import rnnkit
    from rnnkit import backend
    from rnnkit.layers.recurrent import RNN

    torch.set_num_threads(n)
    setter = getattr(rnnkit, "set_num_threads", None) or getattr(backend, "set_num_threads", None)
    if setter is not None:
        setter(n)
        RNN.blas_threads = None  # (None: rnnkit's count)
    else:
        RNN.blas_threads = 1 if n == 1 else None
    return threadpool_limits(n)


def all_cores() -> int:
    """The cores this process may run on (its affinity), as PyTorch counts them."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads() -> list[int]:
    """1 and all cores (just 1 on a one-core machine)."""
    return sorted({1, all_cores()})


def pin_to_cores(n: int) -> None:
    """Keep this process on ``n`` of its cores (for JAX, whose CPU pool ignores every
    thread setting); nothing when it may use no more than n already."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return
    if n < len(allowed):
        os.sched_setaffinity(0, allowed[:n])


def jax_env(threads: int) -> dict:
    """Environment for a process running Keras 3 on JAX's CPU backend at ``threads``."""
    env = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = (
            flags + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        ).strip()
    return env


def kernel_report() -> dict | None:
    """``rnnkit.backend.kernel_info()``, or None where this rnnkit lacks it."""
    from rnnkit import backend

    info = getattr(backend, "kernel_info", None)
    if info is None:
        return None
    try:
        return info()
    except Exception as err:  # (a report must not lose the timings it comes with)
        return {"error": f"{type(err).__name__}: {err}"}


def bench_cells(cells, shapes, threads: int, reps_scale: float, log) -> list[dict]:
    rows = []
    for shape_name in shapes:
        shape = SHAPES[shape_name]
        reps = max(1, round(REPS[shape_name] * reps_scale))
        for kind in cells:
            fns = make_pair(kind, shape, threads=threads, with_onnx=True)
            row = {"threads": threads, "cell": kind, "shape": shape_name, "dims": shape}
            for what in ("train", "infer", "stream", "infer_ort", "stream_ort"):
                if what not in fns:
                    continue
                fr, ft = fns[what]
                streaming = what.startswith("stream")
                n = reps if not streaming else max(1, min(reps, 5))
                settle = ORT_SETTLE_S if what.endswith("_ort") else 0.0
                row[what] = timing(fr, ft, n, STREAM_STEPS if streaming else 1, settle)
            kernel = kernel_report()
            if kernel is not None:
                row["kernel"] = kernel
            rows.append(row)
            log(format_row(row))
    return rows


def timing_child(
    kind: str, shape: str, threads: int, reps_scale: float, reuters_reps: int, log, extra=()
):
    """One row's timings (both libraries, interleaved) in a new process: what PyTorch
    pays for its per-step allocations depends on the state glibc's allocator is left in
    by what ran before (bench/NOTES.md, sessions 7-8), so no row inherits another's.
    (The embedding row's process also needs JAX's environment before JAX starts.)"""
    cmd = [sys.executable, __file__, "--timing-row", kind, shape, str(threads)]
    cmd += ["--reps-scale", str(reps_scale), "--reuters-reps", str(reuters_reps), *extra]
    env = dict(os.environ)
    if shape == "embedding":
        env.update(jax_env(threads))
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, env=env)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if "dims" in row:
        row["dims"] = tuple(row["dims"])
    log(format_row(row))
    return row


# ---- Reuters, one epoch ----------------------------------------------------------------
def reuters_setup(batches: int | None = None):
    """Both models and the same shuffled batches of the default Reuters job."""
    import torch
    import torch_twins

    from rnnkit.experiments import reuters

    cfg = reuters.ReutersConfig().resolved()
    data = reuters.load_split(cfg)
    if getattr(cfg, "min_word_count", 0) > 0:  # as train_and_evaluate prepares the data
        data = reuters.restrict_vocabulary(data, cfg.min_word_count)
        cfg = dataclasses.replace(cfg, extra={**cfg.extra, "input_dim": data["input_dim"]})
    if getattr(cfg, "recurrent_dropout", 0.0):
        raise NotImplementedError("the PyTorch twin has no recurrent dropout")
    x = reuters.encode(cfg, data["x_train"])
    y = np.asarray(data["y_train"])
    order = np.random.default_rng(cfg.seed).permutation(len(x))
    split = int(len(x) * (1.0 - cfg.validation_split))
    x, y = x[order[:split]], y[order[:split]]
    longest = int((x != 0).sum(axis=1).max())
    x = x[:, :longest]
    n_classes = len(data["labels"])
    if batches is not None:
        x, y = x[: batches * cfg.batch_size], y[: batches * cfg.batch_size]

    model = reuters.build_model(cfg, n_classes, x.shape[1])
    twin = torch_twins.ReutersTwin(cfg, n_classes)
    t_opt = torch.optim.Adam(twin.parameters(), lr=cfg.learning_rate)
    xt, yt = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64))
    bs = cfg.batch_size

    def r_epoch():
        model.fit(x, y, epochs=1, batch_size=bs, shuffle=False, verbose=0)

    def t_epoch():
        twin.train()
        for i in range(0, len(xt), bs):
            xb, yb = torch_twins.trim(xt[i : i + bs]), yt[i : i + bs]
            t_opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(twin(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(twin.parameters(), cfg.clipnorm)
            t_opt.step()

    info = {"samples": len(x), "batch": bs, "max_len": x.shape[1], "model": model}
    return r_epoch, t_epoch, info


def bench_reuters(threads: int, reps: int, log, batches: int | None = None) -> dict:
    r_epoch, t_epoch, info = reuters_setup(batches)
    info.pop("model")
    row = {
        "threads": threads,
        "cell": "BiGRU",
        "shape": "reuters",
        "info": info,
        "train": timing(r_epoch, t_epoch, reps),
    }
    kernel = kernel_report()
    if kernel is not None:
        row["kernel"] = kernel
    log(format_row(row))
    return row


# ---- the large-embedding classifier against Keras 3 on JAX, one epoch -------------------
def bench_embedding(threads: int, reps: int, log, samples: int | None = None) -> dict:
    """One epoch of bench/embedding_classifier.py's model in rnnkit and in Keras 3 (the
    process must have KERAS_BACKEND=jax, and JAX's thread settings, from the start:
    ``timing_child`` gives them); the same wires and batches, interleaved."""
    import embedding_classifier as ec

    pin_to_cores(threads)
    x, y = ec.load(samples or ec.SAMPLES)
    model = ec.rnnkit_model()
    import keras

    peer = ec.keras_model(x.shape[1])
    row = {
        "threads": threads,
        "cell": "LSTM",
        "shape": "embedding",
        "info": {
            "samples": len(x),
            "batch": ec.BATCH,
            "max_len": x.shape[1],
            "vocab": ec.VOCAB,
            "keras": f"Keras {keras.__version__} on {keras.backend.backend()} "
            f"{importlib.import_module(keras.backend.backend()).__version__}",
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        },
        "train_keras": timing(ec.rnnkit_epoch(model, x, y), ec.keras_epoch(peer, x, y), reps),
    }
    kernel = kernel_report()
    if kernel is not None:
        row["kernel"] = kernel
    log(format_row(row))
    return row


# ---- memory, one library per process ---------------------------------------------------
def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _drop_caches(layers) -> None:
    """Forget the activations rnnkit layers keep from their last forward pass (PyTorch
    frees its graph after backward), so that both start from the same state."""
    for layer in layers:
        if hasattr(layer, "release_buffers"):
            layer.release_buffers()
        _drop_caches(
            [getattr(layer, n) for n in ("forward_layer", "backward_layer") if hasattr(layer, n)]
        )


MEMORY_METHODS = ("allocated", "rss")
_MARK_BYTES = 7_654_321  # a block of this size, made and freed, marks the baseline


def memory_probe(lib: str, kind: str, shape_name: str, threads: int, method: str) -> float:
    """Peak memory (MiB) of two training steps after a warm-up step, beyond the state
    after the warm-up: the memory a step needs beyond the weights, their gradients and
    the optimizer's slots (which the warm-up step created in both libraries). dL/dx, a
    product of the step, is counted in both: PyTorch's x.grad from the warm-up step is
    dropped before the baseline (the step itself replaces it, so it used to be paid for
    in advance). ``method``: "allocated", the peak of the bytes held in live allocations
    (malloc and its relatives, every call of the process recorded by memray, Python's
    objects included through PYTHONMALLOC=malloc); "rss", the peak growth of the
    resident set (VmHWM), which follows the allocations only as far as glibc's mmap
    threshold lets it."""
    set_threads(threads)
    if shape_name == "reuters":
        r_epoch, t_epoch, info = reuters_setup(batches=2)
        fn, layers = (r_epoch if lib == "rnnkit" else t_epoch), info["model"].layers
        release = None
    else:
        pair = make_pair(kind, SHAPES[shape_name], threads=threads)
        fn, layers = pair["train"][0 if lib == "rnnkit" else 1], [pair["layer"]]
        release = pair["release"][0 if lib == "rnnkit" else 1]
    import gc

    def warm_up():
        fn()
        _drop_caches(layers)
        if release is not None:
            release()  # dL/dx is a product of the step in both: none held in the baseline
        gc.collect()

    if method == "rss":
        warm_up()
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to now
            f.write("5")
        before = _rss_kib("VmRSS")
        fn()
        fn()
        return (_rss_kib("VmHWM") - before) / 1024

    import tempfile

    try:
        import memray
    except ImportError:
        raise SystemExit(
            "the allocated-bytes memory probe needs memray (pip install -e '.[bench]'); "
            "or pass --memory-method rss, or --no-memory"
        ) from None

    if os.environ.get("PYTHONMALLOC") != "malloc":
        raise RuntimeError("the allocated-bytes probe needs PYTHONMALLOC=malloc")
    fn()  # first calls: compiling and loading kernels, not recorded
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.bin")
        # recorded from a warm-up step on, so that every block freed later (PyTorch's
        # gradients from that step, say) has a known size
        with memray.Tracker(path, trace_python_allocators=False):
            warm_up()
            mark = np.empty(_MARK_BYTES, np.uint8)
            del mark
            fn()
            fn()
        kinds = {int(v): k for k, v in memray.AllocatorType.__members__.items()}
        records = memray.FileReader(path).get_allocation_records()
        return _peak_after_mark((kinds[r.allocator], r.address, r.size) for r in records) / 2**20


def _peak_after_mark(records) -> int:
    """Replays memray's records of one process, ``(allocator name, address, size)`` in
    order: the peak of the bytes in live blocks after the marking block was freed, less
    the bytes live before it was made. (memray records a realloc as the old block's
    FREE, then the new block.)"""
    live: dict[int, int] = {}
    now, base, mark, peak = 0, None, None, None
    for kind, address, size in records:
        if kind in ("FREE", "MUNMAP"):
            now -= live.pop(address, 0)
            if mark is not None and address == mark:
                mark, peak = None, now  # the measured steps start here
        else:
            if base is None and size == _MARK_BYTES:
                base, mark = now, address
            live[address] = size
            now += size
        if peak is not None:
            peak = max(peak, now)
    if peak is None:
        raise RuntimeError("the memory probe's marking block was not recorded")
    return peak - base


def bench_memory(
    rows, threads: int, log, method: str = "allocated", mmap_threshold: int = 16384, key="peak_mib"
):
    env = dict(os.environ)
    if method == "allocated":
        env["PYTHONMALLOC"] = "malloc"
    else:
        env.update(MALLOC_MMAP_THRESHOLD_=str(mmap_threshold), MALLOC_TRIM_THRESHOLD_="0")
    for row in rows:
        row[key] = {}
        for lib in ("rnnkit", "torch"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--memory-probe",
                    lib,
                    row["cell"],
                    row["shape"],
                    str(threads),
                    "--memory-method",
                    method,
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            if out.returncode != 0:  # (the probe's own message, not a bare exit status)
                raise SystemExit(
                    f"memory probe ({method}) of {lib} {row['cell']} {row['shape']} failed:\n"
                    + "\n".join(out.stderr.strip().splitlines()[-5:])
                )
            row[key][lib] = float(out.stdout.strip().splitlines()[-1])
        log(
            f"  memory ({method}) {row['cell']:>9} {row['shape']:>7}: rnnkit "
            f"{row[key]['rnnkit']:.1f} MiB, torch {row[key]['torch']:.1f} MiB"
        )


# ---- report ------------------------------------------------------------------------------
def _ms(s):
    return f"{s * 1e3:.2f}" if s < 10 else f"{s * 1e3:.0f}"


def format_row(row) -> str:
    parts = [f"[{row['threads']}t] {row['cell']:>9} {row['shape']:>9}"]
    for what, peer in (("train", "torch"), ("train_keras", "keras"), ("infer", "torch")):
        if what in row:
            r = row[what]
            parts.append(
                f"{what} {_ms(r['rnnkit'])}/{_ms(r['torch'])} ms ({peer}) x{r['ratio']:.2f}"
            )
    if "infer_ort" in row:
        r = row["infer_ort"]
        parts.append(f"ort {_ms(r['torch'])} ms x{r['ratio']:.2f}")
    for what, peer in (("stream", "torch"), ("stream_ort", "ort")):
        if what in row:
            r = row[what]
            parts.append(
                f"{what} {r['rnnkit'] * 1e6:.1f}/{r['torch'] * 1e6:.1f} us ({peer}) "
                f"x{r['ratio']:.2f}"
            )
    return "  ".join(parts)


def machine_info() -> dict:
    import torch
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or "?"
    fields = {}
    try:  # (a VM may name only the brand: family and model tell its generation)
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" in fields:
        cpu = fields["model name"]
        if "cpu family" in fields and "model" in fields:
            cpu += f" (family {fields['cpu family']}, model {fields['model']})"
    blas = [
        f"{i['internal_api']} {i.get('version') or ''} ({i['user_api']}, "
        f"{i.get('architecture') or i.get('threading_layer') or ''}, default "
        f"{i['num_threads']} threads)".replace("  ", " ")
        for i in threadpool_info()
    ]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "blas": blas,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_parallel": torch.__config__.parallel_info().splitlines()[0:3],
        "load_before": os.getloadavg(),
        "accelerator": _accelerator_info(),
        "kernel": kernel_report(),
        "peers": _peer_versions(),
        "openblas_env": _openblas_env(),
        "malloc_env": _malloc_env(),
    }


# Set by some machines to keep old OpenBLAS builds off kernels they get wrong; they also
# hold a current NumPy to slower ones (this workplace's Zen 5 machines set Haswell, the
# AVX2 kernels: 1.6-2.7x slower float32 products than the AVX-512 SkylakeX kernels that
# NumPy 2.4's OpenBLAS picks by itself; bench/NOTES.md, session 6). PyTorch's oneDNN and
# MKL do not read them.
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _openblas_env() -> str:
    found = [f"{k}={os.environ[k]}" for k in OPENBLAS_ENV if k in os.environ]
    return ", ".join(found) if found else "none set"


# glibc's allocator settings. By default glibc maps blocks of 128 KiB and more one by one
# and moves that threshold up as such blocks are freed, so whether a library that
# allocates its per-step buffers anew (PyTorch) pays page faults on them depends on
# what ran before in the process: PyTorch's LSTM long step took 48 ms in the harness's
# order and 33 ms after the LSTM large shape, or with these variables set so that freed
# memory is kept (bench/NOTES.md, session 7). rnnkit reuses its buffers and is unaffected.
MALLOC_ENV = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "GLIBC_TUNABLES",
)


def _malloc_env() -> str:
    found = [f"{k}={os.environ[k]}" for k in MALLOC_ENV if k in os.environ]
    return ", ".join(found) if found else "none set (glibc's defaults)"


def _accelerator_info() -> str:
    from rnnkit import backend

    name = backend.accelerator()
    if name == "numba":
        import numba

        return f"numba {numba.__version__}"
    return "numpy (the reference cells)"


def _peer_versions() -> str:
    """The other libraries' versions, read from their metadata (importing JAX here would
    start its thread pool in this process)."""
    from importlib import metadata

    found = []
    for name in ("onnxruntime", "keras", "jax", "jaxlib"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name}: not installed")
    return ", ".join(found)


def describe_kernel(kernel) -> str:
    """One line for ``kernel_info()``'s dict (what ran: the rows' own reports)."""
    if not kernel:
        return "not reported (this rnnkit has no backend.kernel_info)"
    if "error" in kernel:
        return f"kernel_info() failed: {kernel['error']}"
    parts = [f"{k} {kernel[k]}" for k in ("accelerator", "kernel", "cpu") if kernel.get(k)]
    if kernel.get("threading_layer"):
        parts.append(f"numba threading layer {kernel['threading_layer']}")
    return ", ".join(parts)


def kernels_ran(rows) -> list[str]:
    """``"<cell>.<pass>: <what ran it>"`` over the rows' kernel reports, each once."""
    seen: dict[str, set] = {}
    for row in rows:
        for key, ran in ((row.get("kernel") or {}).get("ran") or {}).items():
            seen.setdefault(key, set()).add(str(ran))
    return [f"{k}: {' / '.join(sorted(v))}" for k, v in sorted(seen.items())]


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def _ratio_cell(v: dict, spread: bool = False) -> str:
    text = f"**{v['ratio']:.2f}**"
    if spread and "spread" in v:
        text += " ({:.2f}-{:.2f})".format(*v["spread"])
    return text


def _threads_title(threads: int, cores: int) -> str:
    title = f"{threads} thread{'s' if threads > 1 else ''}"
    return title + (" (all cores)" if threads == cores and threads > 1 else "")


def write_markdown(path: Path, rows, info, command: str) -> None:
    cores = info.get("cores_used") or info["cores"]
    lines = [
        "# Benchmarks: rnnkit vs PyTorch, onnxruntime and Keras 3 on JAX (CPU)",
        "",
        "Written by `bench/run.py` (see its docstring for what each column measures); do not "
        "edit by hand. Ratio = peer time / rnnkit time: above 1, rnnkit is faster. Times "
        "are medians of interleaved repetitions after a warm-up, "
        + (
            "all rows in one process"
            if info.get("one_process")
            else "rnnkit and its peer in one process, a new process for each row"
        )
        + ", every library limited to the same number of threads (`torch.set_num_threads`, "
        "`rnnkit.set_num_threads` and threadpoolctl's `threadpool_limits` for NumPy's BLAS, "
        "onnxruntime's `intra_op_num_threads`; JAX: the process pinned to that many cores). "
        "Beside a training ratio, in brackets: the lower and upper quartiles of the ratios "
        "of the repetitions' pairs (each rnnkit step and the peer's step next to it), the "
        "spread that this machine's noise gives the median ratio. onnxruntime runs "
        "PyTorch's ONNX export of the same layer with the same weights, its session "
        "stopping its threads' spinning when a run returns, and in its columns each timed "
        "call follows 30 ms of its own library's calls (no thread left spinning by the "
        "other library). Peak memory: "
        + (
            "the peak growth of the resident set"
            if info.get("memory_method") == "rss"
            else "the peak of the bytes in live allocations (every allocation and free "
            "recorded by memray)"
        )
        + " during a training step beyond weights, gradients and optimizer slots, each "
        "library in its own process. Streaming: per step, batch 1.",
        "",
        f"Command: `{command}`",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} logical cores"
        + (f" ({cores} usable by this process)" if cores != info["cores"] else ""),
        *[f"- BLAS / threading (threadpoolctl): {b}" for b in info["blas"]],
        f"- Python {info['python']}, NumPy {info['numpy']}, PyTorch {info['torch']}"
        + (f", {info['peers']}" if info.get("peers") else ""),
        f"- rnnkit accelerator: {info.get('accelerator', 'numpy')} (`--accelerator` chooses)",
        f"- rnnkit kernel (`rnnkit.backend.kernel_info()`): {describe_kernel(info.get('kernel'))}",
        *[f"  - ran {line}" for line in kernels_ran(rows)],
        f"- OpenBLAS kernel overrides in the environment: {info.get('openblas_env', '?')}",
        f"- glibc allocator settings in the environment: {info.get('malloc_env', '?')}",
        f"- Load average (1, 5, 15 min) before the run: "
        f"{', '.join(f'{v:.2f}' for v in info['load_before'])}; after: "
        f"{', '.join(f'{v:.2f}' for v in info['load_after'])}",
        f"- Started {info['started']}, took {info['seconds']:.0f} s",
        "",
    ]
    if max(info["load_before"][0], info["load_after"][0]) > 0.6 * info["cores"]:
        lines += [
            f"**The machine was shared with other jobs during this run (load average above "
            f"{0.6 * info['cores']:.1f} on {info['cores']} cores): the absolute times are "
            f"inflated and noisy; the ratios, taken with repetitions interleaved, are the "
            f"more trustworthy figures.**",
            "",
        ]
    for threads in sorted({r["threads"] for r in rows}):
        sel = [r for r in rows if r["threads"] == threads and "train" in r]
        lines += [
            f"## {_threads_title(threads, cores)}",
            "",
            "| cell | shape (T, B, I, H) | train step rnnkit ms | torch ms | ratio "
            "| inference rnnkit ms | torch ms | ratio | onnxruntime ms | ratio "
            "| stream step rnnkit µs | torch µs | ratio | onnxruntime µs | ratio "
            "| train peak MiB rnnkit | torch |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in sel:
            dims = r.get("dims")
            label = (
                f"{r['shape']} {tuple(dims)}"
                if dims
                else (
                    f"reuters: 1 epoch, {r['info']['samples']} stories, batch "
                    f"{r['info']['batch']}, ≤{r['info']['max_len']} steps"
                )
            )
            cells = [r["cell"], label]
            v = r["train"]
            cells += [_ms(v["rnnkit"]), _ms(v["torch"]), _ratio_cell(v, spread=True)]
            if "infer" in r:
                v = r["infer"]
                cells += [_ms(v["rnnkit"]), _ms(v["torch"]), _ratio_cell(v)]
            else:
                cells += ["", "", ""]
            v = r.get("infer_ort")
            cells += [_ms(v["torch"]), _ratio_cell(v)] if v else ["", ""]
            if "stream" in r:
                v = r["stream"]
                cells += [f"{v['rnnkit'] * 1e6:.1f}", f"{v['torch'] * 1e6:.1f}", _ratio_cell(v)]
            else:
                cells += ["", "", ""]
            v = r.get("stream_ort")
            cells += [f"{v['torch'] * 1e6:.1f}", _ratio_cell(v)] if v else ["", ""]
            pk = r.get("peak_mib")
            cells += [f"{pk['rnnkit']:.1f}", f"{pk['torch']:.1f}"] if pk else ["", ""]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        if sel:
            tr = [r["train"]["ratio"] for r in sel]
            lstm = [r["train"]["ratio"] for r in sel if r["cell"] == "LSTM"]
            lines.append(
                f"Training step: geometric mean of the ratios {geomean(tr):.2f}, lowest "
                f"{min(tr):.2f}"
                + (f", lowest LSTM row {min(lstm):.2f}" if lstm else "")
                + " (target: every row >= 1.0, geometric mean >= 2.0, LSTM rows >= 1.3)."
            )
        straddle = [
            f"{r['cell']} {r['shape']}"
            for r in sel
            if "spread" in r["train"] and r["train"]["spread"][0] < 1.0 <= r["train"]["spread"][1]
        ]
        if straddle:
            lines.append(
                "Rows whose paired ratios' quartiles lie on both sides of 1.0 (within this "
                f"run's noise of a tie): {', '.join(straddle)}."
            )
        inf = [r["infer"]["ratio"] for r in sel if "infer" in r]
        inf_ort = [r["infer_ort"]["ratio"] for r in sel if "infer_ort" in r]
        if inf:
            lines.append(
                f"Inference: lowest ratio {min(inf):.2f} against PyTorch"
                + (f", {min(inf_ort):.2f} against onnxruntime" if inf_ort else "")
                + " (target: every row >= 1.0 against both)."
            )
        st = [r["stream"]["ratio"] for r in sel if "stream" in r]
        st_ort = [r["stream_ort"]["ratio"] for r in sel if "stream_ort" in r]
        if st:
            lines.append(
                f"Streaming step: ratios {min(st):.2f} to {max(st):.2f} against PyTorch "
                "(target: >= 5 where bench/streaming_floor.py's floor allows it)"
                + (
                    f", {min(st_ort):.2f} to {max(st_ort):.2f} against onnxruntime's per-step "
                    "call (target: above 1.0 on every row)"
                    if st_ort
                    else ""
                )
                + "."
            )
        mem = [r for r in sel if "peak_mib" in r]
        if mem:
            worse = [
                f"{r['cell']} {r['shape']}"
                for r in mem
                if r["peak_mib"]["rnnkit"] > r["peak_mib"]["torch"]
            ]
            lines.append(
                "Training-step peak memory above PyTorch's on: "
                + (", ".join(worse) if worse else "no row")
                + "."
            )
        rss = [r for r in sel if "peak_rss_mib" in r]
        if rss:
            worse = [
                f"{r['cell']} {r['shape']} ({r['peak_rss_mib']['rnnkit']:.1f} against "
                f"{r['peak_rss_mib']['torch']:.1f} MiB)"
                for r in rss
                if r["peak_rss_mib"]["rnnkit"] > r["peak_rss_mib"]["torch"]
            ]
            lines.append(
                "Measured instead as the growth of the resident set (`--memory-method rss`, "
                "which misses blocks under glibc's mmap threshold served from heap memory "
                "already resident: PyTorch's small per-step tensors), above PyTorch's on: "
                + (", ".join(worse) if worse else "no row")
                + "."
            )
        keras_rows = [r for r in rows if r["threads"] == threads and "train_keras" in r]
        if keras_rows:
            lines += [
                "",
                "Against Keras 3 on JAX (CPU), one training epoch:",
                "",
                "| model | data | rnnkit s | Keras s | ratio | peer |",
                "|---|---|--:|--:|--:|---|",
            ]
            for r in keras_rows:
                i, v = r["info"], r["train_keras"]
                lines.append(
                    f"| Embedding({i['vocab']}, 64, mask_zero) + LSTM(64) + softmax, Adam "
                    f"| {i['samples']} Reuters wires x {i['max_len']} ids, batch {i['batch']} "
                    f"| {v['rnnkit']:.2f} | {v['torch']:.2f} | {_ratio_cell(v, spread=True)} "
                    f"| {i['keras']}, {i['affinity']} core(s) |"
                )
            lines += ["", "Target: faster than Keras 3 on JAX at the same threads (ratio > 1.0)."]
        lines.append("")
    path.write_text("\n".join(lines))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="thread counts, each a section of its own (default: 1 and all cores)",
    )
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    p.add_argument(
        "--shapes",
        nargs="+",
        default=None,
        choices=list(SHAPES),
        help=f"default: all (--quick: {' '.join(QUICK_SHAPES)})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of every column in a few minutes: few repetitions, the small "
        "shapes, a few Reuters batches and wires for the epoch rows, no memory probes",
    )
    p.add_argument("--no-reuters", action="store_true")
    p.add_argument("--no-keras", action="store_true", help="leave out the Keras 3 (JAX) row")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--reuters-reps", type=int, default=3)
    # the epoch rows on part of their data (--quick): Reuters batches, embedding-row wires
    p.add_argument("--epoch-limit", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--memory-method",
        choices=MEMORY_METHODS,
        default="allocated",
        help="allocated: peak bytes in live allocations, every allocation recorded by "
        "memray (default); rss: peak growth of the resident set",
    )
    p.add_argument(
        "--mmap-threshold",
        type=int,
        default=16384,
        help="with --memory-method rss, glibc's mmap threshold in the probes (bytes): "
        "blocks at least this large are mapped and unmapped one by one, so the resident "
        "set follows them",
    )
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    p.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    p.add_argument(
        "--accelerator",
        choices=["auto", "numba", "numpy"],
        help="rnnkit's accelerator (RNNKIT_ACCELERATOR; default auto: numba when installed)",
    )
    p.add_argument(
        "--one-process",
        action="store_true",
        help="time every row in this process, one after another (before session 8's "
        "default: each row in a process of its own)",
    )
    p.add_argument("--reps-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument(
        "--timing-row", nargs=3, metavar=("CELL", "SHAPE", "THREADS"), help=argparse.SUPPRESS
    )
    p.add_argument(
        "--memory-probe",
        nargs=4,
        metavar=("LIB", "CELL", "SHAPE", "THREADS"),
        help=argparse.SUPPRESS,
    )
    a = p.parse_args(argv)
    for n in a.threads or ():
        if n < 1:
            p.error(f"--threads: expected positive integers, got {n}")
    threads = a.threads or default_threads()
    shapes = a.shapes or (list(QUICK_SHAPES) if a.quick else list(SHAPES))
    os.environ.setdefault("RNNKIT_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    if a.accelerator:  # for this process and the memory probes it starts
        os.environ["RNNKIT_ACCELERATOR"] = a.accelerator
        from rnnkit import backend

        backend.set_accelerator(a.accelerator)
    if a.timing_row:
        kind, shape, threads = a.timing_row
        with set_threads(int(threads)):
            if shape == "reuters":
                row = bench_reuters(
                    int(threads), a.reuters_reps, lambda _: None, batches=a.epoch_limit
                )
            elif shape == "embedding":
                row = bench_embedding(
                    int(threads), a.reuters_reps, lambda _: None, samples=a.epoch_limit
                )
            else:
                row = bench_cells([kind], [shape], int(threads), a.reps_scale, lambda _: None)[0]
        print(json.dumps(row))
        return
    if a.memory_probe:
        lib, kind, shape, threads = a.memory_probe
        print(memory_probe(lib, kind, shape, int(threads), a.memory_method))
        return

    info = machine_info()
    if info["openblas_env"] != "none set":
        print(
            f"warning: {info['openblas_env']} in the environment holds NumPy's OpenBLAS to "
            f"the kernels named (PyTorch does not read it): for a fair comparison run "
            f"`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src python "
            f"bench/run.py ...` (bench/NOTES.md, session 6)",
            file=sys.stderr,
        )
    info["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
    info["one_process"] = a.one_process
    no_memory = a.no_memory or a.quick
    info["memory_method"] = None if no_memory else a.memory_method
    info["cores_used"] = all_cores()
    t0 = time.perf_counter()
    rows = []
    scale = QUICK_SCALE if a.quick else 1.0
    reuters_reps = 1 if a.quick else a.reuters_reps
    # --quick: a few Reuters batches, and a few hundred wires for the Keras row
    reuters_extra = ["--epoch-limit", "4"] if a.quick else []
    keras_extra = ["--epoch-limit", "256"] if a.quick else []
    for n in threads:
        if a.one_process:
            with set_threads(n):
                sel = bench_cells(a.cells, shapes, n, scale, print)
                if not a.no_reuters:
                    sel.append(bench_reuters(n, reuters_reps, print, 4 if a.quick else None))
        else:
            jobs = [(cell, shape) for shape in shapes for cell in a.cells]
            jobs += [] if a.no_reuters else [("BiGRU", "reuters")]
            sel = [
                timing_child(
                    cell,
                    shape,
                    n,
                    scale,
                    reuters_reps,
                    print,
                    reuters_extra if shape == "reuters" else (),
                )
                for cell, shape in jobs
            ]
        if not no_memory:
            bench_memory(sel, n, print, a.memory_method, a.mmap_threshold)
            if a.memory_method == "allocated":  # and the resident set's view, beside it
                bench_memory(sel, n, print, "rss", a.mmap_threshold, key="peak_rss_mib")
        if not a.no_keras:  # (its own process always: JAX reads its settings at start)
            sel.append(
                timing_child("LSTM", "embedding", n, scale, reuters_reps, print, keras_extra)
            )
        rows += sel
    info["load_after"] = os.getloadavg()
    info["seconds"] = time.perf_counter() - t0
    command = "PYTHONPATH=src python bench/run.py " + " ".join(
        x for x in (argv if argv is not None else sys.argv[1:])
    )
    if not a.no_write:
        write_markdown(Path(a.out), rows, info, command.strip())
        Path(a.json).write_text(json.dumps({"info": info, "rows": rows}, indent=1))
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
