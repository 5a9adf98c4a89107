"""Run one Reuters configuration over several seeds and summarise the figures.

    OPENBLAS_NUM_THREADS=1 RNNKIT_DATA_DIR=../shared/data PYTHONPATH=src \\
        python bench/reuters_sweep.py --setting seeds --seeds 0 1 2 3 4 \\
        --set units=64 --set min_word_count=2 [--jobs 2] [--hide-test] [--log out.jsonl]

Prints one line per seed and the mean and standard deviation (over seeds, ddof=1)
of the test accuracy, macro-F1, micro-F1, of the same figures on the validation
part carved from the training set, and of the training wall time. ``--hide-test``
prints only the validation figures (for choosing hyperparameters); the test set is
still scored once per model inside ``train_and_evaluate`` but is not shown.
``--main-job`` instead times the whole ``run()`` (the model and the seeds'
SimpleRNN baseline, run folder included) per seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from rnnkit.experiments import reuters


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def make_config(args, seed: int) -> reuters.ReutersConfig:
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in {f.name for f in dataclasses.fields(reuters.ReutersConfig)}:
            raise SystemExit(f"unknown ReutersConfig field {key!r}")
        overrides[key] = parse_value(value)
    return reuters.ReutersConfig(model=args.model or reuters.ReutersConfig.model,
                                 setting=args.setting, seed=seed, **overrides)


_DATA: dict = {}


def one_seed(args, seed: int) -> dict:
    cfg = make_config(args, seed).resolved()
    start = time.perf_counter()
    if args.main_job:
        with tempfile.TemporaryDirectory() as tmp:
            res = reuters.run(cfg, out_dir=tmp, verbose=0, echo=lambda *a, **k: None)
        wall = time.perf_counter() - start
        row = dict(res["rows"][0])
        row["baseline_accuracy"] = res["rows"][1]["accuracy"] if len(res["rows"]) > 1 else None
        row["baseline_seconds"] = (res["rows"][1]["train_seconds"] if len(res["rows"]) > 1
                                   else None)
    else:
        key = (cfg.setting, cfg.num_words, cfg.maxlen, cfg.test_split)
        if key not in _DATA:
            _DATA[key] = reuters.load_split(cfg)
        out = reuters.train_and_evaluate(cfg, _DATA[key], verbose=0)
        wall = time.perf_counter() - start
        row = dict(out["figures"])
    row["seed"] = seed
    row["wall_seconds"] = wall
    return row


def summarise(rows: list[dict], keys: list[str]) -> dict:
    out = {}
    for k in keys:
        vals = np.array([r[k] for r in rows if r.get(k) is not None], float)
        if len(vals):
            out[k] = (float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setting", default="seeds", choices=sorted(reuters.SETTINGS))
    p.add_argument("--model", default=None, choices=reuters.MODELS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a ReutersConfig field (value parsed as JSON)")
    p.add_argument("--jobs", type=int, default=1, help="parallel processes (at most 2 here)")
    p.add_argument("--hide-test", action="store_true", help="show validation figures only")
    p.add_argument("--main-job", action="store_true", help="time the whole run() per seed")
    p.add_argument("--log", default=None, help="append a JSON line with the results")
    p.add_argument("--name", default=None, help="a label for the log line")
    args = p.parse_args(argv)
    cfg0 = make_config(args, args.seeds[0]).resolved()
    print("config:", json.dumps({k: v for k, v in dataclasses.asdict(cfg0).items()
                                 if k != "seed"}), flush=True)
    start = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(one_seed, [args] * len(args.seeds), args.seeds))
    else:
        rows = [one_seed(args, s) for s in args.seeds]
    total = time.perf_counter() - start
    multi = "subset_accuracy" in rows[0]
    test_keys = ["micro_f1", "macro_f1", "subset_accuracy"] if multi else \
        ["accuracy", "macro_f1", "micro_f1"]
    val_keys = ["val_" + k for k in test_keys] + ["val_loss"]
    shown = (val_keys if args.hide_test else test_keys + val_keys)
    time_keys = ["wall_seconds", "train_seconds", "vector_seconds", "epochs_run", "best_epoch"]
    if args.main_job:
        time_keys += ["baseline_seconds"]
        shown = shown + (["baseline_accuracy"] if not args.hide_test else [])
    for r in rows:
        print(f"seed {r['seed']}: " + "  ".join(
            f"{k}={r[k]:.4f}" for k in shown + time_keys if r.get(k) is not None), flush=True)
    summary = summarise(rows, shown + time_keys)
    print(f"mean ± std over {len(rows)} seeds ({total:.0f} s in all, jobs={args.jobs}):")
    for k, (m, s) in summary.items():
        print(f"  {k:<18} {m:.4f} ± {s:.4f}")
    if args.log:
        line = {"name": args.name, "argv": sys.argv[1:], "config": dataclasses.asdict(cfg0),
                "summary": summary, "rows": rows if not args.hide_test else
                [{k: r[k] for k in val_keys + time_keys + ["seed"] if k in r} for r in rows],
                "total_seconds": total}
        with open(args.log, "a") as f:
            f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
