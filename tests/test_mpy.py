"""`make mpy` output: every target architecture has the device packages compiled, with the modules
device/manifest.py gives it: asm_thumb for the ARM architectures only, viper everywhere but armv6m (RP2040), the
`-m tinypolicy` entry point on the unix port only; the armv6m runtime stays within its 16 KB budget (issue 14)."""
from tinypolicy_host.board import manifest, mpy
from tinypolicy_host.paths import DEVICE

KERNELS = {  # arch -> (asm_thumb kernel shipped, viper kernel shipped)
    "armv6m": (True, False), "armv7emsp": (True, True), "xtensawin": (False, True), "rv32imc": (False, True),
    "x64": (False, True)}


def test_every_arch_compiles_the_package_with_its_kernels(tmp_path):
    assert set(KERNELS) == set(mpy.ARCHES)
    every = mpy.package_sources()
    for arch in mpy.ARCHES:
        written = mpy.compile_arch(arch, tmp_path)
        names = {p.relative_to(tmp_path / arch).as_posix() for p in written}
        assert len(written) == len(mpy.package_sources(arch=arch)) >= len(every) - 2
        thumb, viper = KERNELS[arch]
        assert ("tinypolicy/kernels_thumb.mpy" in names) == thumb, arch
        assert ("tinypolicy/kernels.mpy" in names) == viper, arch
        assert ("tinypolicy/__main__.mpy" in names) == (arch == "x64"), arch
        assert "tinypolicy/portable.mpy" in names and "tinypolicy/loader.mpy" in names, arch
        for path in written:
            head = path.read_bytes()[:2]
            assert head[0:1] == b"M" and head[1] == 6, f"{path}: not an mpy v6 file"


def test_armv6m_runtime_fits_16_kb(tmp_path):
    written = mpy.compile_arch("armv6m", tmp_path)
    runtime = [p for p in written if p.parent.name == mpy.RUNTIME]
    assert len(runtime) >= 10
    assert sum(p.stat().st_size for p in runtime) <= 16384, {p.name: p.stat().st_size for p in runtime}


def test_a_module_left_out_of_an_arch_is_dropped_from_an_older_build(tmp_path):
    old = tmp_path / "armv6m" / "tinypolicy" / "kernels.mpy"  # a build from before the manifest left it out
    old.parent.mkdir(parents=True)
    old.write_bytes(b"M\x06")
    mpy.compile_arch("armv6m", tmp_path)
    assert not old.exists()
    assert manifest.read(DEVICE).left_out("armv6m") == {"tinypolicy/kernels.py", "tinypolicy/__main__.py"}
    assert manifest.read(tmp_path).left_out("armv6m") == set()  # no manifest.py: every module


def test_compile_error_and_bad_out_are_user_errors_and_foreign_files_survive(tmp_path):
    import pytest

    from tinypolicy_host.errors import UserError

    device = tmp_path / "device"
    for package in mpy.PACKAGES:
        (device / package).mkdir(parents=True)
        (device / package / "__init__.py").write_text("# device: ok\nX = 1\n")
    out = tmp_path / "out"
    mine = out / "x64" / "notes" / "mine.mpy"  # not a package folder: never cleaned up
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"M")
    stale = out / "x64" / "tinypolicy" / "gone.mpy"  # a deleted source's output: cleaned up
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"M")
    written = mpy.compile_arch("x64", out, device)
    assert len(written) == 2 and mine.exists() and not stale.exists()
    (device / "tinypolicy" / "broken.py").write_text("def f(:\n")
    with pytest.raises(UserError, match=r"broken\.py: mpy-cross \(x64\) failed: .*SyntaxError"):
        mpy.compile_arch("x64", out, device)
    (tmp_path / "afile").write_text("")
    with pytest.raises(UserError, match="cannot create"):
        mpy.compile_arch("x64", tmp_path / "afile", device)
