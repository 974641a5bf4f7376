"""`make mpy` output: every target architecture has the whole device package compiled (the asm_thumb kernel for
the ARM architectures only)."""
from tinypolicy_host.board import mpy


def test_every_arch_compiles_the_whole_package(tmp_path):
    for arch in mpy.ARCHES:
        written = mpy.compile_arch(arch, tmp_path)
        assert len(written) == len(mpy.package_sources(arch=arch))
        has_thumb = any(p.name == "kernels_thumb.mpy" for p in written)
        assert has_thumb == (arch in mpy.ARM_ARCHES), arch
        for path in written:
            head = path.read_bytes()[:2]
            assert head[0:1] == b"M" and head[1] == 6, f"{path}: not an mpy v6 file"


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
