"""Issue 11 item 1, the actuator stage end to end (device/main.py on the unix port): every torque command is clamped
to the board's hardware limit (board.MAX_TORQUE_Q12), whatever range the model file declares."""
import struct
import sys

import pytest
from test_closed_loop import run_app, summary

from tinypolicy_host.contract.blob import decode_blob
from tinypolicy_host.paths import MODELS, REPO

sys.path.insert(0, str(REPO / "tests" / "device"))
import v2blob  # noqa: E402

BATCH = ("--mode", "batch", "--period-ms", 20, "--duration-s", 4)  # the swing-up from hanging saturates


def _loud_blob(tmp_path):
    """The shipped int8 policy with its torque made 8x larger (last layer's shifts - 3) and a declared range of
    +-100 N*m (output table and the last layer's clamp): a legal blob that asks for far more than 2 N*m."""
    data = bytearray((MODELS / "policy_int8.bin").read_bytes())
    o = v2blob.offsets(data)
    n_layers = data[8]
    last = o["layers"] + 16 * (n_layers - 1)
    n_out = struct.unpack_from("<H", data, last + 2)[0]
    struct.pack_into("<ii", data, last + 8, -409600, 409600)
    shift_off = o["sec"][-1][3]
    for j in range(n_out):
        assert data[shift_off + j] >= 3
        data[shift_off + j] -= 3
    struct.pack_into("<ff", data, o["outputs"] + 12, -100.0, 100.0)
    struct.pack_into("<ii", data, o["outputs"] + 28, -409600, 409600)
    v2blob.recrc(data)
    decode_blob(bytes(data), "loud.bin")  # the host reader accepts it (it is a valid blob)
    path = tmp_path / "loud.bin"
    path.write_bytes(data)
    return path


def _board(tmp_path, limit):
    """A copy of the unix board module with another MAX_TORQUE_Q12 (found first on MICROPYPATH)."""
    text = (REPO / "boards" / "unix" / "board.py").read_text()
    assert "\nMAX_TORQUE_Q12 = 8192 " in text
    folder = tmp_path / "board"
    folder.mkdir()
    (folder / "board.py").write_text(text.replace("\nMAX_TORQUE_Q12 = 8192 ", f"\nMAX_TORQUE_Q12 = {limit} "))
    return folder


def _max_torque(proc, log):
    assert proc.returncode == 0 and summary(log)["safe"] == "0", proc.stdout[-800:] + proc.stderr
    assert not [m for m in log.messages if m.startswith("error: ")], log.messages
    assert len(log) == 200
    return float(abs(log.data["torque"]).max())


def test_a_model_declaring_100_nm_commands_at_most_the_boards_2_nm(tmp_path):
    proc, log = run_app("--model", _loud_blob(tmp_path), *BATCH)
    assert _max_torque(proc, log) == 2.0  # reached (the model asks for up to 8x more), never passed
    assert (abs(log.data["torque"]) == 2.0).sum() > 20


def test_a_board_limit_below_the_models_range_wins(tmp_path):
    """The shipped policy declares +-2 N*m; a board whose motor stage takes 1 N*m (4096 Q12) never gets more."""
    proc, log = run_app(*BATCH, extra_path=[_board(tmp_path, 4096)])
    assert _max_torque(proc, log) == 1.0
    proc, log = run_app(*BATCH)  # the same run on the stock unix board does use the model's 2 N*m
    assert _max_torque(proc, log) == 2.0


@pytest.mark.parametrize("value", ["0", "16385", "-8192", "2.0", "'8192'"])
def test_an_invalid_board_limit_is_one_error_line_and_the_safe_state(tmp_path, value):
    proc, log = run_app(*BATCH, extra_path=[_board(tmp_path, value)])
    errors = [m for m in log.messages if m.startswith("error: ")]
    want = f"error: board: MAX_TORQUE_Q12 {value}: an integer 1..16384 (Q12 N*m) -> safe state: zero torque"
    assert errors == [want], errors
    assert proc.returncode == 1 and summary(log)["safe"] == "1" and (log.data["torque"] == 0).all()
    assert "Traceback" not in proc.stdout + proc.stderr
