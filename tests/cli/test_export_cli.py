"""rnnkit export checks a run folder's kind before reading it, and leaves it unchanged."""

import json

from rnnkit.cli.main import main


def test_export_refuses_a_folder_of_another_kind(tmp_path, capsys):
    run = tmp_path / "grad"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"kind": "gradients", "cell": "rnn"}))
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["export", str(run), str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "gradient-flow report" in err and "rnnkit export" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert not (tmp_path / "m.onnx").exists()
