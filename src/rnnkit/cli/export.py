"""``rnnkit export RUN_FOLDER OUT.onnx``: a trained model as an ONNX file."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained model to ONNX (for onnxruntime and other runtimes)",
        description="Write the model of a run folder (its model.rnnkit), or a model file, "
        "as an ONNX file whose outputs equal the model's predictions. Needs the onnx "
        "package (pip install rnnkit[onnx]).",
    )
    p.add_argument("run_folder", help="a run folder with a model.rnnkit, or a .rnnkit file")
    p.add_argument("out", help="the ONNX file to write (e.g. model.onnx)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace OUT if it exists (refused otherwise)"
    )
    p.add_argument(
        "--stateful",
        choices=("error", "stream"),
        default="error",
        help="stateful recurrent layers (a language model's): refuse them (error, the "
        "default), or export them stateless with their states as the graph's inputs and "
        "outputs, for the caller to carry between runs (stream)",
    )
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from .. import runs
    from ..interop.onnx import export_onnx
    from ..models import load_model

    source = Path(args.run_folder)
    if (source / "config.json").is_file():  # a run folder: of a kind with a model?
        runs.open_run(source, ("reuters", "lm", "seq2seq"), "rnnkit export")
    model_file = source / "model.rnnkit" if source.is_dir() else source
    if not model_file.is_file():
        raise FileNotFoundError(
            f"{model_file} not found: give a run folder holding model.rnnkit, or a model file"
        )
    if Path(args.out).exists() and not args.overwrite:
        raise FileExistsError(f"{args.out} exists: pass --overwrite to replace it")
    proto = export_onnx(load_model(model_file), args.out, stateful=args.stateful)
    inputs = ", ".join(i.name for i in proto.graph.input)
    outputs = ", ".join(o.name for o in proto.graph.output)
    print(f"wrote {args.out}")
    print(f"  inputs:  {inputs}")
    print(f"  outputs: {outputs}")
    return 0
