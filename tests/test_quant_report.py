"""`tinypolicy quant-report`: the blobs must hold their own dtypes, and user mistakes are one `error:` line."""
import json
import shutil

import pytest

from tinypolicy_host import cli
from tinypolicy_host.paths import MODELS

NAMES = ("policy_f32.bin", "policy_int8.bin", "policy_int8_a8.bin", "policy_q15.bin")


def _models(tmp_path, **swap):
    """A copy of models/'s blobs; swap={"policy_f32.bin": "policy_int8.bin"} copies another blob over a name."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(MODELS / swap.get(name, name), folder / name)
    return folder


@pytest.mark.parametrize("target,source,got", [("policy_f32.bin", "policy_int8.bin", "w8a16"),
                                               ("policy_int8.bin", "policy_q15.bin", "q15"),
                                               ("policy_int8.bin", "policy_int8_a8.bin", "w8a8"),
                                               ("policy_q15.bin", "policy_f32.bin", "f32"),
                                               ("policy_int8.bin", "policy_f32.bin", "f32")])
def test_blob_of_the_wrong_dtype_is_refused(tmp_path, capsys, target, source, got):
    """An int8 blob copied to policy_f32.bin used to report int8 error 0.000000 (int8 vs itself)."""
    folder = _models(tmp_path, **{target: source})
    assert cli.main(["quant-report", "--models", str(folder), "--states", "100", "--no-returns"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder / target}: dtype: ") and err.count("\n") == 1, err
    assert f"a {got} policy" in err


def test_matching_blobs_pass_the_dtype_check(tmp_path, capsys):
    folder = _models(tmp_path)
    out = tmp_path / "r.json"
    assert cli.main(["quant-report", "--models", str(folder), "--states", "500", "--no-returns",
                     "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["returns"] is None  # --no-returns
    te = report["torque_error"]
    assert 0 < te["q15"]["mean_abs_error_Nm"] < te["w8a16"]["mean_abs_error_Nm"] < te["w8a8"]["mean_abs_error_Nm"]


@pytest.mark.parametrize("bad,want", [(["--states", "0"], "--states: 0: must be >= 1"),
                                      (["--states=-5"], "--states: -5: must be >= 1"),
                                      (["--episodes", "0"], "--episodes: 0: must be >= 1"),
                                      (["--json", "NOFOLDER/r.json"], "cannot write (No such file"),
                                      (["--json", "DIR"], "is a folder")])
def test_user_mistakes_are_one_error_line(tmp_path, capsys, bad, want):
    """--states 0 / -5 and --episodes 0 used to end in numpy tracebacks; --json into a missing folder in a
    FileNotFoundError after the whole measurement: checked up front now (nothing printed on stdout)."""
    bad = [a.replace("NOFOLDER", str(tmp_path / "nope")).replace("DIR", str(tmp_path)) for a in bad]
    assert cli.main(["quant-report", *bad]) == 2
    cap = capsys.readouterr()
    assert cap.err.startswith("error: ") and cap.err.count("\n") == 1 and want in cap.err, cap.err
    assert cap.out == ""
