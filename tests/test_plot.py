"""Plot: the four PNGs are valid images of the expected size; user errors are one line."""
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import LOG_HEADER
from tinypolicy_host.board.plot import NAMES, plot_log
from tinypolicy_host.cli import main
from tinypolicy_host.errors import UserError
from tinypolicy_host.evaluation.upright import wrap_angle

HEADER = LOG_HEADER


def write_log(path, n=300):
    lines = ["# info: start", HEADER]
    for i in range(n):
        theta = math.pi * math.exp(-i / 60) * math.cos(i / 10)
        lines.append(f"{i},{i * 10000},{theta:.4f},0.0000,{max(-2, min(2, -3 * theta)):.4f},{40 + i % 5},"
                     f"{i % 7},0,0")
    lines.append("# info: done")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_plot_writes_four_valid_pngs(tmp_path):
    log = write_log(tmp_path / "run.csv")
    paths = plot_log(log, tmp_path / "plots")
    assert [p.name for p in paths] == list(NAMES)
    for p in paths:
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] >= 500 and im.size[1] >= 300


def test_wrap_angle():
    assert np.allclose(wrap_angle(np.array([0.0, 2 * math.pi + 0.1, -2 * math.pi - 0.1, 3.0])),
                       [0.0, 0.1, -0.1, 3.0])


def test_plot_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER + "\n")
    with pytest.raises(UserError, match="no data rows"):
        plot_log(empty, tmp_path)
    with pytest.raises(UserError, match="cannot read log"):
        plot_log(tmp_path / "missing.csv", tmp_path)


def test_cli(tmp_path):
    log = write_log(tmp_path / "run.csv", n=50)
    r = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "plot", str(log), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(NAMES)


def test_out_that_is_a_file_is_one_error_line(tmp_path, capsys):
    log = write_log(tmp_path / "run.csv", n=20)
    not_a_folder = tmp_path / "plots.png"
    not_a_folder.write_text("keep me")
    assert main(["plot", str(log), "--out", str(not_a_folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {not_a_folder}: is a file, not a folder") and err.count("\n") == 1, err
    assert not_a_folder.read_text() == "keep me"
    assert main(["plot", str(log), "--out", str(not_a_folder / "sub")]) == 2  # below a file: cannot be created
    err = capsys.readouterr().err
    assert err.startswith(f"error: {not_a_folder / 'sub'}: {not_a_folder} is a file") and err.count("\n") == 1


def test_time_axis_unwraps_t_us_and_non_finite_timings_are_skipped(tmp_path):
    from tinypolicy_host.board.logformat import read_log
    from tinypolicy_host.board.plot import T_WRAP, _time_s

    start = T_WRAP - 20000  # 20 ms before the device's ticks_us wraps
    lines = [HEADER]
    for i in range(5):
        lines.append(f"{i},{(start + i * 10000) % T_WRAP},0.1,0.0,0.0,{'inf' if i == 2 else 40},3,0,0")
    log = tmp_path / "wrap.csv"
    log.write_text("\n".join(lines) + "\n")
    assert np.allclose(_time_s(read_log(log)), [0.0, 0.01, 0.02, 0.03, 0.04])
    assert len(plot_log(log, tmp_path / "plots")) == 4  # the inf inference time is left out, not a crash
    lines = [HEADER, "0,0,0.1,0.0,0.0,inf,3,0,0"]
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="infer_us: no finite values"):
        plot_log(log, tmp_path / "plots")
