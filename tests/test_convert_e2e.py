"""`tinypolicy convert` end to end: third-party ONNX → blobs + metadata + golden vectors → replayed on the unix
MicroPython port (sources and x64 .mpy), bit-exact for int8 / Q15; `tinypolicy verify` fails on any mismatch."""
import hashlib
import io
import json

import convert_models as cm
import numpy as np
import pytest

from tinypolicy_host.cli import main
from tinypolicy_host.convert.pipeline import Options, run_convert
from tinypolicy_host.convert.verify import verify_unix

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx_e2e")


def cases(folder):
    sk = cm.sklearn_models(folder)
    sb3 = cm.sb3_actors(folder)
    calib = folder / "sk_calib.npy"
    return {
        "torch_tanh": (cm.torch_mlp(folder, "tanh", 15), Options(input_range="-2:2")),
        "torch_relu6_clip": (cm.torch_clip_mlp(folder), Options(input_range="-2:2")),
        "keras": (cm.keras_dense(folder), Options(input_range="-2:2")),
        "sk_pipeline": (sk["sk_reg_pipeline"], Options(calib=calib)),
        "sk_classes": (sk["sk_cls3"], Options(calib=calib)),
        "sb3_ppo_discrete": (sb3["sb3_ppo_cartpole"], Options(input_range="-3:3")),
        "sb3_sac_angle": (sb3["sb3_sac_pendulum"], Options(input_range="-1:1,-1:1,-8:8", angle_inputs=(0,))),
        "noop_scaling": (cm.handmade_noop_scaling(folder), Options(input_range="-3:5,-4:0,0:100")),
    }


@pytest.fixture(scope="module")
def converted(folder, tmp_path_factory):
    out = {}
    for name, (path, opts) in cases(folder).items():
        out[name] = (path, run_convert(path, tmp_path_factory.mktemp(name), opts))
    return out


NAMES = ["torch_tanh", "torch_relu6_clip", "keras", "sk_pipeline", "sk_classes", "sb3_ppo_discrete", "sb3_sac_angle",
         "noop_scaling"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("variant", ["src", "mpy"])
def test_golden_replay_on_unix_port(converted, name, variant):
    _, result = converted[name]
    replays = verify_unix(result.out_dir, variant)
    assert sorted(r.scheme for r in replays) == ["f32", "q15", "w8a16"]
    for r in replays:
        assert r.ok, (r.scheme, r.detail)
        assert r.rows >= 200


@pytest.mark.parametrize("name", NAMES)
def test_metadata_and_accuracy(converted, name):
    path, result = converted[name]
    meta = json.loads((result.out_dir / "metadata.json").read_text())
    spec = result.converted.spec
    assert meta["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sorted(meta["blobs"]) == ["f32", "int8", "q15"]
    for kind, b in meta["blobs"].items():
        assert (result.out_dir / b["file"]).stat().st_size == b["bytes"], kind
    assert [r["n_out"] for r in meta["layers"]] == spec.dims[1:]
    assert len(meta["inputs"]) == spec.n_inputs and len(meta["outputs"]) == spec.n_outputs
    assert meta["calibration"]["rows"] + meta["calibration"]["held_out_rows"] > 0
    rows = {(r["blob"], r["split"]): r for r in meta["accuracy"]["rows"]}
    assert set(rows) == {(k, s) for k in ("float64", "int8", "w8a8", "q15", "f32") for s in ("calib", "held-out")}
    if spec.argmax:  # class index: the float blobs agree everywhere, the integer ones on almost every row
        assert rows["f32", "held-out"]["classes"]["mismatches"] == 0
        assert rows["int8", "held-out"]["classes"]["rate"] < 0.02
    else:
        f32 = max(s["max"] for s in rows["f32", "calib"]["stats"])
        q15 = max(s["p99"] for s in rows["q15", "calib"]["stats"])
        int8 = max(s["p99"] for s in rows["int8", "calib"]["stats"])
        assert f32 < 1e-5 and q15 < int8


def test_goals_on_well_conditioned_nets(converted):
    """The calibration-row goals hold for the trained / well-scaled nets (int8 p99 ≤ 1 %, q15 ≤ 0.05 % of range)."""
    for name in ("torch_tanh", "torch_relu6_clip", "keras", "sk_pipeline", "sb3_sac_angle"):
        _, result = converted[name]
        assert not [m for m in result.misses if "calib" in m and not m.startswith("w8a8")], name


def test_clip_layers_in_metadata(converted):
    _, result = converted["torch_relu6_clip"]
    meta = json.loads((result.out_dir / "metadata.json").read_text())
    assert [(r["activation"], r.get("lo"), r.get("hi")) for r in meta["layers"]] == [
        ("clip", 0.0, 6.0), ("clip", -0.5, 2.0), ("identity", None, None)]


def test_angle_input_blob_takes_theta(converted):
    _, result = converted["sb3_sac_angle"]
    meta = json.loads((result.out_dir / "metadata.json").read_text())
    assert [i["kind"] for i in meta["inputs"]] == ["angle", "affine"]
    assert meta["inputs"][0]["onnx_columns"] == [0, 1] and meta["inputs"][0]["frac"] == 12


def test_class_labels_in_metadata(converted):
    _, result = converted["sk_classes"]
    meta = json.loads((result.out_dir / "metadata.json").read_text())
    assert meta["argmax"] and meta["class_labels"] == [3, 13, 23]


def test_verify_cli_fails_on_a_changed_golden_row(converted, tmp_path, capsys):
    import shutil

    _, result = converted["torch_tanh"]
    copy = tmp_path / "copy"
    shutil.copytree(result.out_dir, copy)
    assert main(["verify", str(copy)]) == 0
    golden = copy / "golden" / "golden_q15.csv"
    lines = golden.read_text().splitlines()
    cells = lines[5].split(",")
    cells[-1] = str(int(cells[-1]) + 1)
    lines[5] = ",".join(cells)
    golden.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["verify", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH q15" in out and "1 mismatches" in out and "mismatch row 5" in out


def test_verify_cli_errors(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "metadata.json: no such file" in err and err.count("\n") == 1


def test_convert_cli_prints_the_report(folder, tmp_path, capsys):
    path = cm.torch_mlp(folder, "relu", 13)
    rc = main(["convert", str(path), "--input-range=-2:2", "--dtype", "int8,f32", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "5 inputs → 16 → 12 → 2 (relu, relu, identity)" in out
    assert "layer 0 activations in [" in out and "p99 % range" in out
    assert "ok       w8a16  policy_int8.bin" in out and "ok       f32    policy_f32.bin" in out
    assert sorted(p.name for p in (tmp_path / "o").glob("*.bin")) == ["policy_f32.bin", "policy_int8.bin"]
    np.testing.assert_equal(json.loads((tmp_path / "o" / "metadata.json").read_text())["options"]["dtypes"],
                            ["int8", "f32"])


def test_verify_on_the_virtual_board(converted, tmp_path, capsys):
    """`tinypolicy verify DIR --device --port P` on a flashed (virtual) board: real mpremote over a pty."""
    from tinypolicy_host.board.flash import flash
    from tinypolicy_host.devtools.vboard import VBoardProcess

    _, result = converted["sb3_sac_angle"]
    with VBoardProcess(tmp_path / "fs", tmp_path / "port") as vb:
        flash(vb.port, "unix", out=io.StringIO())
        assert main(["verify", str(result.out_dir), "--device", "--port", vb.port]) == 0
        out = capsys.readouterr().out
    assert out.count("ok ") == 3 and "0 mismatches" in out
    version = (tmp_path / "fs" / "tp" / "current").read_text().strip()  # files go beside the flashed version
    on_board = tmp_path / "fs" / "tp" / version / "tp_verify" / "m0.bin"
    assert on_board.read_bytes() == (result.out_dir / "policy_int8.bin").read_bytes()
