"""`tinypolicy demo` end to end (short run): log under the given path, plots, one-paragraph summary; user errors
(a log or plot path that cannot be written, a flag the device app rejects) as one `error:` line, no traceback."""
import subprocess
import sys
from pathlib import Path

import pytest

from tinypolicy_host import cli
from tinypolicy_host.board.logformat import read_log
from tinypolicy_host.cli import main
from tinypolicy_host.paths import REPO


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


def one_error_line(capsys, argv) -> tuple[str, str]:
    """Run `tinypolicy demo ARGV` in-process: exit status 2 and exactly one stderr line, `error: ...`."""
    assert main(["demo", *argv]) == 2
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in out + err
    return out, err.strip()


def unwritable_paths(tmp_path) -> dict[str, Path]:
    (tmp_path / "a_file").write_text("x")
    paths = {"under a file": tmp_path / "a_file" / "sub", "a folder": tmp_path}
    if Path("/proc/self").is_dir():
        paths["/proc/x"] = Path("/proc/x")  # cannot make folders there, even as root
    return paths


@pytest.mark.parametrize("case", ["under a file", "a folder", "/proc/x"])
def test_demo_unwritable_log_is_one_error_line(case, tmp_path, capsys):
    paths = unwritable_paths(tmp_path)
    if case not in paths:
        pytest.skip("no /proc")
    log = paths[case] if case == "a folder" else paths[case] / "demo.csv"
    out, err = one_error_line(capsys, ["--log", str(log), "--no-plots"])
    assert err.startswith(f"error: --log {log}: "), err
    assert ("is a folder, not a file" if case == "a folder" else "cannot write (") in err
    assert out == ""  # before the device runs


@pytest.mark.parametrize("case", ["under a file", "/proc/x", "a file"])
def test_demo_unwritable_plot_folder_is_one_error_line(case, tmp_path, capsys):
    paths = unwritable_paths(tmp_path) | {"a file": tmp_path / "a_file"}
    if case not in paths:
        pytest.skip("no /proc")
    log = tmp_path / "logs" / "demo.csv"
    out, err = one_error_line(capsys, ["--log", str(log), "--plots", str(paths[case])])
    assert err.startswith(f"error: --plots {paths[case]}: "), err
    want = {"a file": "is a file, not a folder", "under a file": "a_file is a file", "/proc/x": "cannot create"}
    assert want[case] in err, err
    assert out == "" and not log.exists()  # checked before the run, not after 10 s of it


@pytest.mark.parametrize("quiet", [False, True])
def test_demo_reports_the_device_config_error_as_the_reason(quiet, tmp_path, capsys):
    """The app rejects --period-ms 0 before its CSV header: that message is the error, said once, and no
    "no CSV header" / "no data rows" follow-up."""
    log = tmp_path / "demo.csv"
    out, err = one_error_line(capsys, ["--period-ms", "0", "--log", str(log), "--no-plots"]
                              + (["--quiet"] if quiet else []))
    assert err.startswith("error: the device app did not start: period_ms: 0 not allowed"), err
    assert (out + err).count("period_ms: 0 not allowed") == 1, out + err
    assert "device info" not in out and "CSV header" not in out + err and "data rows" not in out + err
    assert "# error: period_ms: 0 not allowed" in log.read_text()  # the log still records it


def test_make_demo_writes_only_untracked_paths():
    """`make demo` must not dirty the work tree: its log and plots go where git ignores them (the committed
    example plots in plots/ are rewritten only by `make plots`)."""
    dry = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True, timeout=60)
    (line,) = [ln for ln in dry.stdout.splitlines() if " demo --log " in ln]
    words = line.split()
    log, plots = words[words.index("--log") + 1], words[words.index("--plots") + 1]
    for path in (log, f"{plots}/angle_vs_time.png"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO, timeout=30)
        assert ignored.returncode == 0, f"make demo writes {path}, which git tracks"
    parsed = cli.build_parser("demo").parse_args(["demo"])  # the CLI's own defaults too
    for path in (parsed.log, parsed.plots / "angle_vs_time.png"):
        assert subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO, timeout=30).returncode == 0, path
