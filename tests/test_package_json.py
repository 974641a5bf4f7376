"""device/package.json: `mpremote mip install` gets exactly the inference runtime, and it runs after installing.

The control app (`tinypolicy_app`) and main.py are deployed by `make flash`, not by mip."""

import json
import subprocess
import sys

from tinypolicy_host.contract.blob import read_blob
from tinypolicy_host.devtools.vboard import VBoardProcess
from tinypolicy_host.paths import DEVICE, MODELS


def test_lists_every_runtime_module_and_nothing_else():
    urls = json.loads((DEVICE / "package.json").read_text())["urls"]
    runtime = sorted(f"tinypolicy/{p.name}" for p in (DEVICE / "tinypolicy").glob("*.py"))
    assert sorted(dst for dst, _ in urls) == runtime
    assert all(src == dst for dst, src in urls)  # sources relative to package.json, same layout on the board


def test_mip_install_on_virtual_board_then_infer(tmp_path):
    fs = tmp_path / "fs"
    fs.mkdir()
    (fs / "policy_int8.bin").write_bytes((MODELS / "policy_int8.bin").read_bytes())
    with VBoardProcess(fs, tmp_path / "port", run_main=False) as vb:
        # a relative target: the virtual board's "/" is the host's root, a board's `lib` is /lib
        mpremote = [sys.executable, "-m", "mpremote", "connect", vb.port]
        r = subprocess.run(
            [*mpremote, "mip", "install", "--target", "lib", str(DEVICE / "package.json")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert sorted(p.name for p in (fs / "lib" / "tinypolicy").iterdir()) == sorted(
            p.name for p in (DEVICE / "tinypolicy").glob("*.py")
        )
        code = "from tinypolicy import Policy\np = Policy.load('policy_int8.bin')\n"
        code += "print(p.dtype, p.infer([3.0, 0.5])[0])\n"
        r = subprocess.run([*mpremote, "exec", code], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        dtype, torque = r.stdout.split()
        assert dtype == "int8" and float(torque) == read_blob(MODELS / "policy_int8.bin").forward([[3.0, 0.5]])[0, 0]
