"""`tinypolicy export` CLI: where the golden vectors go, and user mistakes as one `error:` line."""
import json

import pytest

from specs import random_spec
from tinypolicy_host import cli
from tinypolicy_host.export import artifacts as export


def _spec_file(tmp_path):
    path = tmp_path / "train" / "policy_spec.npz"
    path.parent.mkdir()
    random_spec((3, 8, 8, 1), "relu", 0).save(path)
    return path


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """models/ and tests/data/golden swapped for temporary folders: a regression cannot touch the shipped ones."""
    repo = tmp_path / "repo"
    monkeypatch.setattr(export, "MODELS", repo / "models")
    monkeypatch.setattr(export, "GOLDEN", repo / "tests" / "data" / "golden")
    return repo


def test_golden_default_follows_out(tmp_path, fake_repo, monkeypatch, capsys):
    """`--out X` without --golden writes the golden vectors to X/../golden (as `train --models-out` does), never
    to tests/data/golden, which describes the shipped models/ (it used to, desynchronising the golden tests)."""
    spec = _spec_file(tmp_path)
    out = tmp_path / "elsewhere" / "models"
    assert cli.main(["export", "--spec", str(spec), "--out", str(out)]) == 0
    assert (out / "policy_int8.bin").is_file()
    golden = tmp_path / "elsewhere" / "golden"
    assert (golden / "pendulum" / "golden_w8a16.csv").is_file() and (golden / "tanh").is_dir()
    assert (golden / "manifest.json").is_file() and (out / "policy_int8_a8.bin").is_file()
    assert not export.GOLDEN.exists()
    assert str(golden / "pendulum" / "golden_q15.csv") in capsys.readouterr().out
    assert export.default_golden_dir(out) == golden


def test_out_naming_the_repository_models_keeps_tests_data_golden(tmp_path, fake_repo, monkeypatch):
    """Compared as resolved paths: `--out models` from the repository root (or models/../models) is models/."""
    spec = _spec_file(tmp_path)
    export.MODELS.mkdir(parents=True)
    monkeypatch.chdir(fake_repo)
    assert export.default_golden_dir(export.MODELS / ".." / "models") == export.GOLDEN
    assert cli.main(["export", "--spec", str(spec), "--out", "models"]) == 0
    assert (export.MODELS / "policy_q15.bin").is_file()
    assert (export.GOLDEN / "pendulum" / "golden_q15.csv").is_file()
    assert not (fake_repo / "golden").exists()


def _json_file(tmp_path, name, value):
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


BAD = {
    "provenance list": (lambda t: ["--provenance", _json_file(t, "p.json", [1, 2])], "p.json: must hold a JSON object"),
    "provenance number": (lambda t: ["--provenance", _json_file(t, "p.json", 3)], "p.json: must hold a JSON object"),
    "provenance beside the spec": (lambda t: _json_file(t / "train", "provenance.json", "seed") and [],
                                   "provenance.json: must hold a JSON object"),
    "returns list": (lambda t: ["--returns", _json_file(t, "r.json", [])], "r.json: must hold a JSON object"),
    "provenance not JSON": (lambda t: (t / "p.json").write_text("{") and ["--provenance", str(t / "p.json")],
                            "p.json: not valid JSON"),
    "evaluate negative": (lambda t: ["--evaluate", "-1"], "--evaluate: -1"),
    "out is a file": (lambda t: (t / "f").write_text("x") and ["--out", str(t / "f")], "--out "),
    "out under a file": (lambda t: (t / "f").write_text("x") and ["--out", str(t / "f" / "m")], "--out "),
    "golden is a file": (lambda t: (t / "f").write_text("x") and ["--out", str(t / "m"), "--golden", str(t / "f")],
                         "--golden "),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_user_mistakes_are_one_error_line(tmp_path, fake_repo, capsys, case):
    """Used to be a TypeError (provenance not an object), IndexError (--evaluate -1), FileExistsError (--out a
    file): now one `error:` line naming the file or option, exit 2, and nothing written."""
    spec = _spec_file(tmp_path)
    make, want = BAD[case]
    extra = make(tmp_path)
    if "--out" not in extra:
        extra += ["--out", str(tmp_path / "m")]
    assert cli.main(["export", "--spec", str(spec), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and want in err, err
    assert not (tmp_path / "m").exists() and not (tmp_path / "golden").exists()
    assert not export.MODELS.exists() and not export.GOLDEN.exists()


def test_unusable_old_metadata_in_out_is_ignored(tmp_path, fake_repo):
    """A metadata.json in OUT is only read to keep the provenance of the same spec: one that is not an object
    (or whose provenance is not) is replaced, not a traceback."""
    spec = _spec_file(tmp_path)
    out = tmp_path / "m"
    out.mkdir()
    for old in ("[1]", '{"provenance": [1]}', "not json"):
        (out / "metadata.json").write_text(old)
        assert cli.main(["export", "--spec", str(spec), "--out", str(out)]) == 0
        assert json.loads((out / "metadata.json").read_text())["format"] == "tinypolicy-metadata/2"
