"""Run folders a slip cannot damage: every command that reads a run folder checks its
kind first, refuses a wrong one with exit 2 and one line, and leaves it byte for byte
as it was; a non-empty --out is refused without --overwrite; --resume alone restores
the run's options and a conflicting option is refused, naming it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil

import pytest

from rnnkit import runs
from rnnkit.cli.main import main
from tests.cli import run_cli

pytestmark = pytest.mark.timeout(300)

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40
LM_SMALL = ["--units", "8", "--embed-dim", "4", "--window", "10", "--batch-size", "4", "-q"]
S2S_SMALL = ["--n-train", "200", "--n-test", "20", "--units", "8", "--embed-dim", "4", "-q"]


def snapshot(folder) -> dict:
    """Every file under ``folder`` (names, bytes) and every folder name."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        found[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lm_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "lm"
    args = ["lm", "train", "--corpus", str(corpus), "--out", str(out), "--epochs", "1"]
    assert main([*args, *LM_SMALL]) == 0
    return out


@pytest.fixture(scope="module")
def s2s_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "s2s"
    args = ["seq2seq", "train", "--task", "addition", "--epochs", "1", "--out", str(out)]
    assert main([*args, *S2S_SMALL]) == 0
    return out


@pytest.fixture
def reuters_like(tmp_path):
    """A Reuters run folder's config (the check reads nothing else first)."""
    folder = tmp_path / "reuters-run"
    folder.mkdir()
    runs.write_config(folder, "reuters", {"model": "bigru", "setting": "seeds"})
    (folder / "model.rnnkit").write_bytes(b"not read before the kind check")
    return folder


def test_runs_record_their_kind(lm_run, s2s_run):
    assert json.loads((lm_run / "config.json").read_text())["kind"] == "lm"
    assert json.loads((s2s_run / "config.json").read_text())["kind"] == "seq2seq"
    assert runs.folder_kind(lm_run)[0] == "lm"


def _refused(args, folder, what):
    """``rnnkit ARGS`` (in this process: the same code path as the command, without a
    new interpreter per case) exits 2 with one line saying ``what``, and ``folder``
    is byte for byte as it was."""
    before = snapshot(folder)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    assert code == 2, err.getvalue()
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.getvalue(), err.getvalue()
    assert what in lines[0], lines[0]
    assert snapshot(folder) == before  # nothing changed, byte for byte


def test_wrong_kind_folders_are_refused_unchanged(lm_run, s2s_run, reuters_like):
    lm, s2s = str(lm_run), str(s2s_run)
    cases = [
        (["reuters", "--resume", lm, "-q"], lm_run, "a language-model run folder"),
        (["predict", s2s, "some story"], s2s_run, "a sequence-to-sequence run folder"),
        (["predict", lm, "--top", "2", "text"], lm_run, "a language-model run folder"),
        (["lm", "generate", s2s, "--length", "5"], s2s_run, "a sequence-to-sequence run"),
        (["lm", "train", "--resume", s2s], s2s_run, "a sequence-to-sequence run folder"),
        (["seq2seq", "train", "--resume", lm], lm_run, "a language-model run folder"),
        (["seq2seq", "run", lm, "1+2"], lm_run, "a language-model run folder"),
        (["lm", "generate", str(reuters_like)], reuters_like, "a Reuters topic-classifier run"),
        (["seq2seq", "run", str(reuters_like), "1+2"], reuters_like, "a Reuters"),
    ]
    for args, folder, what in cases:
        _refused(args, folder, what)


def test_a_folder_without_a_kind_field_is_recognised(lm_run, tmp_path):
    """Folders written before the field existed: known by their config's keys."""
    legacy = tmp_path / "legacy"
    shutil.copytree(lm_run, legacy)
    config = json.loads((legacy / "config.json").read_text())
    del config["kind"]
    (legacy / "config.json").write_text(json.dumps(config))
    _refused(["reuters", "--resume", str(legacy), "-q"], legacy, "a language-model run folder")
    result = run_cli("lm", "generate", str(legacy), "--prompt", "All:", "--length", "5")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "content,message",
    [
        ("[1, 2]", "holds a JSON list, expected an object"),
        ('{"kind": "banana"}', "field 'kind' must be one of"),
        ('{"kind": "lm", "units": "many"}', "field 'units' must be"),
        ("{not json", "is not valid JSON"),
        ('{"something": 1}', "not the config of any rnnkit run"),
    ],
)
def test_tampered_configs_are_refused_naming_the_field(tmp_path, content, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "config.json").write_text(content)
    _refused(["lm", "generate", str(folder)], folder, message)


def test_not_a_run_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(["lm", "train", "--resume", str(empty)], empty, "holds no config.json")
    result = run_cli("predict", str(tmp_path / "missing"), "text")
    assert result.returncode == 2 and "not found" in result.stderr


def test_a_non_empty_out_folder_needs_overwrite(corpus, lm_run, tmp_path):
    target = tmp_path / "taken"
    shutil.copytree(lm_run, target)
    args = ["lm", "train", "--corpus", str(corpus), "--out", str(target), "--epochs", "1"]
    _refused([*args, *LM_SMALL], target, "is not empty")
    other = tmp_path / "user-files"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    _refused(["gradients", "--steps", "5", "--out", str(other)], other, "--overwrite")
    # asked to overwrite: the old run (checkpoints included) is replaced, other files kept
    (target / "notes.txt").write_text("mine")
    old_checkpoints = sorted(p.name for p in (target / "checkpoints").iterdir())
    assert main([*args, "--seed", "3", "--overwrite", *LM_SMALL]) == 0
    assert json.loads((target / "config.json").read_text())["seed"] == 3
    assert (target / "notes.txt").read_text() == "mine"
    assert len(list((target / "checkpoints").iterdir())) <= max(len(old_checkpoints), 2)
    assert main(["gradients", "--steps", "5", "--out", str(other), "--overwrite"]) == 0
    assert (other / "gradients.json").exists() and (other / "notes.txt").exists()


def _interrupted_lm(corpus, out, epochs, monkeypatch):
    """An lm run killed (as by Ctrl-C) after its first epoch's checkpoint."""
    from rnnkit.experiments import lm

    real_fit = lm.Sequential.fit

    def fit_then_crash(self, *a, **kw):
        kw["epochs"] = 1
        real_fit(self, *a, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(lm.Sequential, "fit", fit_then_crash)
    args = ["lm", "train", "--corpus", str(corpus), "--out", str(out), "--epochs", str(epochs)]
    assert main([*args, "--level", "char", *LM_SMALL]) == 130
    monkeypatch.setattr(lm.Sequential, "fit", real_fit)


def test_resume_alone_restores_the_run_and_conflicts_are_refused(corpus, tmp_path, monkeypatch):
    out = tmp_path / "r"
    _interrupted_lm(corpus, out, 2, monkeypatch)
    # an option that differs from the stored run is refused, naming it; nothing changes
    _refused(["lm", "train", "--resume", str(out), "--units", "32"], out, "--units 32")
    _refused(["lm", "train", "--resume", str(out), "--corpus", "other.txt"], out, "--corpus")
    _refused(["lm", "train", "--resume", str(out), "--out", str(tmp_path / "x")], out, "different")
    # the same value as stored is no conflict; --resume alone is enough
    result = run_cli("lm", "train", "--resume", str(out), "--units", "8", "-q")
    assert result.returncode == 0, result.stderr
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2
    # the run is finished: resuming again has nothing to do, says so, changes nothing
    _refused(["lm", "train", "--resume", str(out)], out, "holds a finished run (2 epochs")


def test_seq2seq_resume_reports_the_stored_task(tmp_path):
    out = tmp_path / "t"
    args = ["seq2seq", "train", "--task", "tagging", "--epochs", "1", "--out", str(out)]
    assert main([*args, *S2S_SMALL]) == 0
    config = json.loads((out / "config.json").read_text())
    config["epochs"] = 2  # extend the finished run by one epoch
    (out / "config.json").write_text(json.dumps(config))
    _refused(["seq2seq", "train", "--resume", str(out), "--task", "dates"], out, "--task 'dates'")
    result = run_cli("seq2seq", "train", "--resume", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tagging: exact match")


def test_tokenizer_and_config_go_through_the_atomic_writer(corpus, tmp_path, monkeypatch):
    """A write that fails part-way leaves no truncated tokenizer.json behind."""
    from rnnkit.utils import io

    real = io.atomic_write
    written = []

    def spy(path, *a, **kw):
        written.append(str(path).rsplit("/", 1)[-1])
        return real(path, *a, **kw)

    monkeypatch.setattr(io, "atomic_write", spy)
    monkeypatch.setattr(runs, "atomic_write", spy)
    out = tmp_path / "w"
    args = ["lm", "train", "--corpus", str(corpus), "--out", str(out), "--epochs", "1"]
    assert main([*args, *LM_SMALL]) == 0
    for name in ("config.json", "tokenizer.json", "metrics.json", "learning_curves.png"):
        assert name in written, written
    target = out / "tokenizer.json"
    before = target.read_bytes()

    class Boom(Exception):
        pass

    def failing_dump(*a, **kw):
        raise Boom

    with pytest.raises(Boom):
        with runs.atomic_write(target, "w", encoding="utf-8") as f:
            f.write('{"half": ')
            failing_dump()
    assert target.read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_a_tampered_vocabulary_is_refused_naming_the_field(s2s_run, tmp_path):
    bad = tmp_path / "bad-vocab"
    shutil.copytree(s2s_run, bad)
    vocab = json.loads((bad / "vocab.json").read_text())
    del vocab["tgt"]
    (bad / "vocab.json").write_text(json.dumps(vocab))
    result = run_cli("seq2seq", "run", str(bad), "1+2")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "vocab.json: field 'tgt' is missing" in result.stderr
    vocab["tgt"] = "not a list"
    (bad / "vocab.json").write_text(json.dumps(vocab))
    result = run_cli("seq2seq", "run", str(bad), "1+2")
    assert result.returncode == 2 and "field 'tgt' has the wrong type" in result.stderr
