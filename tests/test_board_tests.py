"""`tinypolicy devtest --port`: the device test files run on a (virtual) board through mpremote's raw REPL, one
fresh interpreter per module, and a failing device test fails the command."""

import io
import shutil
import subprocess
import sys

import pytest

from tinypolicy_host.board import devtest as board_tests
from tinypolicy_host.board.devtest import run_module, run_on_board
from tinypolicy_host.errors import UserError
from tinypolicy_host.paths import REPO

TESTS = REPO / "tests" / "device"


@pytest.fixture
def board(flashed_board):
    return flashed_board


def test_device_tests_pass_on_the_board(board):
    vb, fs = board
    out = io.StringIO()
    totals = run_on_board(vb.port, ["test_smoke", "test_policy_api", "test_rig"], with_data=False, out=out)
    text = out.getvalue()
    assert totals["fail"] == 0, text
    assert totals["modules"]["test_smoke"]["pass"] == 3 and totals["pass"] >= 15, text
    assert (fs / "tests" / "device" / "runner.py").read_bytes() == (TESTS / "runner.py").read_bytes()
    assert "PASS test_policy_api.test_infer_q_allocates_nothing_int8_q15" in text


def test_a_failing_device_test_fails_the_command(board, tmp_path):
    vb, _ = board
    tests = tmp_path / "suite"
    tests.mkdir()
    for name in ("runner.py", "devtest.py"):
        shutil.copy(TESTS / name, tests / name)
    (tests / "test_mixed.py").write_text("# device: one passes, one fails\n"
                                         "def test_ok():\n    assert 1 + 1 == 2\n\n"
                                         "def test_broken():\n    assert [1, 2] == [2, 1], 'order'\n")
    out = io.StringIO()
    totals = run_on_board(vb.port, [], with_data=False, tests_dir=tests, out=out)
    text = out.getvalue()
    assert (totals["pass"], totals["fail"]) == (1, 1), text
    assert "FAIL test_mixed.test_broken" in text and "AssertionError: order" in text
    with pytest.raises(UserError, match="test_nope: no such module"):
        run_on_board(vb.port, ["test_nope"], with_data=False, tests_dir=tests)


def test_cli_without_a_board_is_one_error_line():
    r = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "devtest", "--port", "/dev/nonexistent_tty"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("error: --port /dev/nonexistent_tty")
    assert "Traceback" not in r.stderr


class FakeTransport:
    """Stands in for mpremote's SerialTransport: `fail` maps a method name to the exception it raises."""

    device_name = "/dev/ttyACM9"

    def __init__(self, **fail):
        self.fail = fail

    def _maybe(self, name):
        if name in self.fail:
            raise self.fail[name]

    def enter_raw_repl(self, soft_reset=True, timeout_overall=None):
        self._maybe("enter_raw_repl")

    def exec_raw_no_follow(self, code):
        self._maybe("exec_raw_no_follow")

    def follow(self, timeout, data_consumer=None):
        self._maybe("follow")
        data_consumer(b"PASS test_x.test_a\r\n")
        return b"", b""


def test_a_lost_or_silent_board_is_a_user_error_naming_port_and_module():
    import serial
    from mpremote.transport import TransportError

    unplugged = serial.SerialException("device reports readiness to read but returned no data")
    cases = [({"exec_raw_no_follow": OSError(5, "Input/output error")}, "could not start the module"),
             ({"exec_raw_no_follow": TransportError("could not enter raw repl")}, "could not start the module"),
             ({"enter_raw_repl": unplugged}, "could not start the module"),
             ({"follow": unplugged}, "lost the connection to the board"),
             ({"follow": TransportError("timeout waiting for first EOF reception")},
              f"printed nothing for {board_tests.SILENCE_S:.0f} s and the module did not end")]
    for fail, what in cases:
        with pytest.raises(UserError) as info:
            run_module(FakeTransport(**fail), "test_loader", io.StringIO())
        msg = str(info.value)
        assert msg.startswith("--port /dev/ttyACM9: test_loader: ") and what in msg, (fail, msg)
        assert "\n" not in msg
    counts = run_module(FakeTransport(), "test_x", io.StringIO())
    assert (counts["pass"], counts["fail"]) == (1, 0)
