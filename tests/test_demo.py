"""`tinypolicy demo` end to end (short run): log under the given path, plots, one-paragraph summary."""
import subprocess
import sys

import pytest

from tinypolicy_host.logfile import read_log
from tinypolicy_host.paths import MODELS

needs_model = pytest.mark.skipif(not (MODELS / "policy_int8.bin").exists(), reason="no models/policy_int8.bin")


@needs_model
def test_demo_writes_log_plots_and_summary(tmp_path):
    log_path = tmp_path / "logs" / "demo.csv"
    plots = tmp_path / "plots"
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "demo", "--duration-s", "8", "--log",
                           str(log_path), "--plots", str(plots), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "upright at t = " in out, out
    assert "overruns " in out and "inference median " in out, out
    log = read_log(log_path)
    assert len(log) >= 790 and not log.malformed
    assert log.messages[-1] == "info: done"
    for name in ("angle_vs_time.png", "torque_output.png"):
        assert (plots / name).stat().st_size > 1000, name
