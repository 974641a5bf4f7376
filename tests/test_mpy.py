"""`make mpy` output: every target architecture has the whole device package compiled."""
from tinypolicy_host import mpy


def test_every_arch_compiles_the_whole_package(tmp_path):
    for arch in mpy.ARCHES:
        written = mpy.compile_arch(arch, tmp_path)
        assert len(written) == len(mpy.package_sources())
        for path in written:
            head = path.read_bytes()[:2]
            assert head[0:1] == b"M" and head[1] == 6, f"{path}: not an mpy v6 file"
