"""`tinypolicy dist`: release folders hold exactly the .mpy `tinypolicy flash` would copy, and a stale or missing
build is refused (one UserError naming the file) instead of being packaged."""
import os
import zipfile

import pytest

from helpers import fake_repo
from tinypolicy_host.board import dist, flash
from tinypolicy_host.errors import UserError
from tinypolicy_host.paths import DEVICE as REPO_DEVICE

ARCH = "armv6m"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A fake repository: device/ (both packages, main.py, config.json), boards/, models/, build/mpy/armv6m with a
    .mpy (fake bytes: dist only copies them) newer than each source."""
    sources = {"tinypolicy/__init__.py": "VERSION = 1\n", "tinypolicy_app/__init__.py": "",
               "tinypolicy_app/app.py": "def main():\n    pass\n"}
    files = {f"device/{rel}": "# device: fake\n" + text for rel, text in sources.items()}
    files |= {f"build/mpy/{ARCH}/{rel.replace('.py', '.mpy')}": b"M\x06" + rel.encode() for rel in sources}
    files |= {"device/main.py": "# device: fake app\n", "device/config.json": "{}\n",
              "boards/rpi_pico/board.py": "# device: fake board\nNAME = 'rpi_pico'\n",
              "models/policy_int8.bin": b"TPOL" + bytes(60)}
    root = fake_repo(tmp_path / "repo", files, monkeypatch, dist, flash)
    for rel in sources:  # each source older than its .mpy
        os.utime(root / "device" / rel, (1_000_000_000, 1_000_000_000))
    return root


def names_in(archive):
    with zipfile.ZipFile(archive) as z:
        return sorted(n.split("/", 1)[1] for n in z.namelist() if not n.endswith("/"))


def test_a_fresh_build_is_packaged_with_only_current_modules(tree, tmp_path):
    orphan = tree / "build" / "mpy" / ARCH / "tinypolicy_app" / "removed.mpy"  # its source is gone
    orphan.write_bytes(b"M\x06old")
    archive = dist.build(ARCH, tmp_path / "dist")
    assert names_in(archive) == ["boards/rpi_pico/board.py", "config.json", "main.py", "models/policy_int8.bin",
                                 "tinypolicy/__init__.mpy", "tinypolicy_app/__init__.mpy", "tinypolicy_app/app.mpy"]
    folder = archive.with_suffix("")
    assert (folder / "tinypolicy_app" / "app.mpy").read_bytes() == b"M\x06tinypolicy_app/app.py"


def test_a_stale_or_missing_mpy_is_refused(tree, tmp_path):
    out = tmp_path / "dist"
    archive = dist.build(ARCH, out)
    before = names_in(archive)
    (tree / "device" / "tinypolicy_app" / "app.py").write_text("# device: fake\ndef main():\n    return 1\n")
    with pytest.raises(UserError, match=r"build/mpy/armv6m/tinypolicy_app/app\.mpy: older than "
                                        r"device/tinypolicy_app/app\.py: run `make mpy`"):
        dist.build(ARCH, out)
    assert names_in(archive) == before  # the previous release is left as it was
    (tree / "build" / "mpy" / ARCH / "tinypolicy_app" / "app.mpy").unlink()
    with pytest.raises(UserError, match=r"tinypolicy_app/app\.mpy: missing \.mpy build for armv6m"):
        dist.build(ARCH, out)
    with pytest.raises(UserError, match=r"xtensawin/tinypolicy: missing; run `make mpy` first"):
        dist.build("xtensawin", out)


@pytest.mark.parametrize("arch, kernels", [("armv6m", ["kernels_thumb.mpy"]), ("xtensawin", ["kernels.mpy"]),
                                           ("armv7emsp", ["kernels.mpy", "kernels_thumb.mpy"])])
def test_each_arch_zip_has_the_kernels_the_manifest_gives_it(tree, tmp_path, arch, kernels):
    """With the repository's device/manifest.py: armv6m ships asm_thumb but not viper, ESP32 viper only."""
    (tree / "device" / "manifest.py").write_text((REPO_DEVICE / "manifest.py").read_text())
    for name in ("kernels", "kernels_thumb", "portable"):
        (tree / "device" / "tinypolicy" / f"{name}.py").write_text("# device: fake\n")
        os.utime(tree / "device" / "tinypolicy" / f"{name}.py", (1_000_000_000, 1_000_000_000))
    for rel in ("__init__", "kernels", "kernels_thumb", "portable"):
        mpy = tree / "build" / "mpy" / arch / "tinypolicy" / f"{rel}.mpy"
        mpy.parent.mkdir(parents=True, exist_ok=True)
        mpy.write_bytes(b"M\x06")
    (tree / "build" / "mpy" / arch / "tinypolicy_app").mkdir(exist_ok=True)
    for rel in ("__init__", "app"):
        (tree / "build" / "mpy" / arch / "tinypolicy_app" / f"{rel}.mpy").write_bytes(b"M\x06")
    runtime = [n.split("/")[1] for n in names_in(dist.build(arch, tmp_path / "dist")) if n.startswith("tinypolicy/")]
    assert runtime == sorted(["__init__.mpy", "portable.mpy", *kernels])
