"""End to end on the virtual board, through the make targets a user types: `make flash`, `make monitor`, `make
plot`. Real mpremote over a real pty into the unix MicroPython port, the real device app, model and config."""
import hashlib
import json
import math
import re
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from helpers import LOG_COLUMNS
from tinypolicy_host.board.logformat import read_log
from tinypolicy_host.board.mpy import PACKAGES
from tinypolicy_host.board.plot import NAMES
from tinypolicy_host.devtools.vboard import VBoardProcess
from tinypolicy_host.evaluation.upright import UPRIGHT_RAD, wrap_angle
from tinypolicy_host.paths import BOARDS, BUILD, DEVICE, REPO

HEADER = LOG_COLUMNS


def make(*args, timeout=120):
    t0 = time.monotonic()
    r = subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"make {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r, time.monotonic() - t0


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_flash_monitor_plot_on_virtual_board(tmp_path):
    config = json.loads((DEVICE / "config.json").read_text())
    fs = tmp_path / "fs"
    out = tmp_path / "logs" / "run.csv"
    with VBoardProcess(fs, tmp_path / "port") as vb:
        # 1. flash: everything copied and verified by a hash computed on the board
        r, t_first = make("flash", f"PORT={vb.port}", "BOARD=unix")
        m = re.search(r"flash: version (\w+): (\d+) sent .* all (\d+) files verified on the device "
                      r"\((sha256|crc32)\)", r.stdout)
        assert m and m.group(2) == m.group(3), r.stdout
        assert (fs / "tp" / "current").read_text() == m.group(1) and sha(fs / "boot.py") == sha(DEVICE / "boot.py")
        live = fs / "tp" / m.group(1)  # the version folder boot.py enters
        expected = {"main.py": DEVICE / "main.py", "config.json": DEVICE / "config.json",
                    "board.py": BOARDS / "unix" / "board.py", config["model"]: REPO / config["model"]}
        expected |= {f"models/policy_{dtype}.bin": REPO / "models" / f"policy_{dtype}.bin"
                     for dtype in ("f32", "int8", "q15")}
        for package in PACKAGES:
            for mpy in (BUILD / "mpy" / "x64" / package).rglob("*.mpy"):
                expected[mpy.relative_to(BUILD / "mpy" / "x64").as_posix()] = mpy
        for rel, local in expected.items():  # independent check of the board's flash
            assert (live / rel).is_file() and sha(live / rel) == sha(local), rel
            assert f" {rel} " in r.stdout
        assert not list(fs.rglob("*.new")) and not [p for package in PACKAGES for p in (live / package).glob("*.py")]
        assert sorted(p.name for p in fs.iterdir()) == ["boot.py", "tp"]
        # 2. a second flash copies nothing
        r, t_second = make("flash", f"PORT={vb.port}", "BOARD=unix")
        assert re.search(r"flash: version \w+: 0 sent \(0 B\), (\d+) unchanged", r.stdout), r.stdout
        # 3. monitor: real-time control until the app says it is done
        duration = config.get("duration_s", 10)
        r, t_monitor = make("monitor", f"PORT={vb.port}", f"OUT={out}", f"DURATION={duration + 8}",
                            timeout=duration + 60)
        assert "stopped: done" in r.stderr, r.stderr
        assert "0 malformed, 0 partial" in r.stderr, r.stderr
    log = read_log(out)
    assert log.columns == HEADER and not log.malformed and not log.messages
    period_s = config.get("period_ms", 10) / 1000
    n_expected = duration / period_s / config.get("decimation", 1)
    assert 0.9 * n_expected <= len(log) <= n_expected + 1, (len(log), n_expected)
    tick, t_us = log.data["tick"], log.data["t_us"]
    assert np.all(np.diff(tick) > 0) and np.all(np.diff(t_us) > 0)
    # 4. the pendulum is upright at the end: the last half second inside the upright band
    t = (t_us - t_us[0]) / 1e6
    end = wrap_angle(log.data["theta"][t >= t[-1] - 0.5])
    assert np.all(np.abs(end) <= UPRIGHT_RAD), f"not upright at the end: |theta| up to {np.abs(end).max():.3f}"
    # 5. plots, as the user types it
    plots = tmp_path / "plots"
    r, _ = make("plot", f"LOG={out}", f"PLOTS={plots}")
    for name in NAMES:
        assert str(plots / name) in r.stdout, r.stdout
        with Image.open(plots / name) as im:
            im.verify()
            assert im.format == "PNG"
    print(f"\nflash {t_first:.2f} s / {t_second:.2f} s (make incl.), monitor {t_monitor:.1f} s, {len(log)} rows, "
          f"final |theta| {abs(wrap_angle(np.array([log.data['theta'][-1]]))[0]):.3f} rad")
    assert math.isfinite(float(log.data["torque"][-1]))
