"""`tinypolicy lint` type check: each board module is checked against its own port's MicroPython stubs, so a
`machine` API the board does not have fails the check, naming the API, and a correct module passes."""
import textwrap

import pytest

from tinypolicy_host.devtools import lint
from tinypolicy_host.errors import UserError

# A board module using only what both ports have (as boards/*/board.py do).
PORTABLE = """\
    from machine import ADC, PWM, Pin, Timer

    adc = ADC(Pin(26))
    pwm = PWM(Pin(16), freq=20000, duty_u16=0)
    pwm.duty_u16(adc.read_u16())
    timer = Timer(-1)
    """
# ESP32-only: capacitive touch pins and the esp32 module.
ESP32_ONLY = """\
    import esp32
    from machine import Pin, TouchPad

    pad = TouchPad(Pin(4))
    level = pad.read() + esp32.raw_temperature()
    """
# RP2-only: the PIO state machines.
RP2_ONLY = """\
    import rp2
    from machine import Pin

    sm = rp2.StateMachine(0, freq=2000, set_base=Pin(25))
    sm.active(1)
    """


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One mypy cache for the module (per stub set), apart from the repo's: the stubs are parsed once."""
    return tmp_path_factory.mktemp("mypy_cache")


def check(stubs, source, tmp_path, cache_dir):
    if not lint.stubs_dir(stubs).is_dir():
        pytest.skip(f"{lint.stubs_dir(stubs)} missing: run `make setup`")
    board = tmp_path / stubs / "board.py"
    board.parent.mkdir(parents=True)
    board.write_text(textwrap.dedent(source))
    return lint.type_check(stubs, [board], capture=True, cache_dir=cache_dir / stubs)


@pytest.mark.parametrize("stubs, source, missing", [
    ("rp2", ESP32_ONLY, ['"machine" has no attribute "TouchPad"', 'module named "esp32"']),
    ("esp32", RP2_ONLY, ['module named "rp2"']),
])
def test_type_check_rejects_api_the_board_lacks(stubs, source, missing, tmp_path, cache_dir):
    r = check(stubs, source, tmp_path, cache_dir)
    assert r.returncode != 0, r.stdout + r.stderr
    for text in missing:
        assert text in r.stdout, r.stdout
    assert "board.py:" in r.stdout and ".venv/stubs" not in r.stdout, r.stdout  # in the module, not the stubs


@pytest.mark.parametrize("stubs, source", [("rp2", RP2_ONLY), ("esp32", ESP32_ONLY), ("rp2", PORTABLE),
                                           ("esp32", PORTABLE)])
def test_type_check_passes_api_the_board_has(stubs, source, tmp_path, cache_dir):
    r = check(stubs, source, tmp_path, cache_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found in 1 source file" in r.stdout, r.stdout


def test_each_board_is_checked_against_its_own_port_stubs():
    groups = lint.type_check_groups()
    rel = {stubs: {str(p.relative_to(lint.REPO)) for p in paths} for stubs, paths in groups.items()}
    assert "boards/rpi_pico/board.py" in rel["rp2"] and "device/main.py" in rel["rp2"]
    assert rel["esp32"] == {"boards/esp32/board.py"}
    assert not any("boards/unix" in p for paths in rel.values() for p in paths)
    cmd = lint.mypy_command("esp32", [])
    assert cmd[cmd.index("--custom-typeshed-dir") + 1] == str(lint.STUBS_ROOT / "esp32")


def test_board_without_stub_set_is_an_error(tmp_path, monkeypatch):
    for name in ("rpi_pico", "newboard"):
        (tmp_path / "boards" / name).mkdir(parents=True)
        (tmp_path / "boards" / name / "board.py").write_text("NAME = 'x'\n")
    (tmp_path / "device").mkdir()
    monkeypatch.setattr(lint, "REPO", tmp_path)
    with pytest.raises(UserError, match="boards/newboard: no stub set for this board"):
        lint.device_type_check()
