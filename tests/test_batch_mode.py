"""Device batch and serve modes (`micropython -m tinypolicy …`), driven from CPython on the unix port, from
source and from the x64 .mpy build."""
import csv
import os
from pathlib import Path

import pytest

from devrun import run_micropython
from tinypolicy_host.paths import REPO

GOLDEN = REPO / "tests" / "data" / "golden" / "pendulum"  # the shipped net's golden files
VARIANTS = ["src", "mpy"]


def _batch(variant, model, inp, out):
    return run_micropython(["-m", "tinypolicy", "batch", "--model", model, "--input", inp, "--output", out],
                           variant=variant)


def _golden_rows(name, n=400):
    with open(GOLDEN / name) as f:
        rows = list(csv.reader(f))[1:]
    return rows[:n // 2] + rows[-n // 2:]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_batch_integer_dtypes_exact(tmp_path, variant, dtype):
    rows = _golden_rows(f"golden_{ {'int8': 'w8a16', 'q15': 'q15'}[dtype]}.csv")
    # Q12 integers written as exact decimal floats (k / 4096): the device's to_q12 gives k back.
    inp = tmp_path / "in.csv"
    inp.write_text("theta,theta_dot\n" + "".join(f"{int(t) / 4096!r},{int(w) / 4096!r}\n" for t, w, _ in rows))
    out = tmp_path / "out.csv"
    proc = _batch(variant, REPO / "models" / f"policy_{dtype}.bin", inp, out)
    assert proc.returncode == 0, proc.stderr
    got = list(csv.reader(out.open()))
    assert got[0] == ["torque", "torque_q12"]
    assert len(got) == len(rows) + 1
    for (_t, _w, want), (torque, q12) in zip(rows, got[1:], strict=True):
        assert int(q12) == int(want)
        assert float(torque) == int(want) / 4096


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_f32_no_header(tmp_path, variant):
    rows = _golden_rows("golden_f32.csv", 200)
    inp = tmp_path / "in.csv"
    inp.write_text("".join(f"{t},{w}\n" for t, w, _ in rows))  # no header row
    out = tmp_path / "out.csv"
    proc = _batch(variant, REPO / "models" / "policy_f32.bin", inp, out)
    assert proc.returncode == 0, proc.stderr
    got = out.read_text().split()
    assert got[0] == "torque" and len(got) == len(rows) + 1
    for (_t, _w, want), torque in zip(rows, got[1:], strict=True):
        assert abs(float(torque) - float(want)) <= 1e-5


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("body, line, what", [
    ("theta,theta_dot\n0,0\n1,x\n", 3, "theta_dot: 'x' is not a number"),
    ("0,0\n0.5\n", 2, "expected 2 columns"),
    ("0,0,0\n", 1, "expected 2 columns"),
    ("0.1,0.2\nnan,0\n", 2, "not finite"),
    (b"theta,theta_dot\n0,0\n0.5,1\n\xff\xfe,1\n0,1\n", 4, "not valid UTF-8 text"),
    # a malformed first row is an error, not a header
    ("abc,1\n0,0\n", 1, "theta: 'abc' is not a number"),
    ("theta,omega\n0,0\n", 1, "theta: 'theta' is not a number"),
    ("theta,theta_dot,torque\n0,0\n", 1, "expected 2 columns"),
])
def test_batch_malformed_row(tmp_path, variant, body, line, what):
    inp = tmp_path / "IN.csv"
    inp.write_bytes(body if isinstance(body, bytes) else body.encode())
    out = tmp_path / "out.csv"
    proc = _batch(variant, REPO / "models" / "policy_int8.bin", inp, out)
    _fails_cleanly(proc, out, f"error: {inp} line {line}: ")  # the partial output is removed
    assert what in proc.stderr, proc.stderr


def _fails_cleanly(proc, out, prefix):
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(prefix), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_input_is_a_directory(tmp_path, variant):
    out = tmp_path / "out.csv"
    proc = _batch(variant, REPO / "models" / "policy_f32.bin", tmp_path, out)
    _fails_cleanly(proc, out, f"error: {tmp_path} line 1: ")
    assert "EISDIR" in proc.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_header_ignores_whitespace(tmp_path, variant):
    inp = tmp_path / "in.csv"
    inp.write_bytes(b" theta , theta_dot \r\n0,0\r\n\n0.5,-1\r\n")
    out = tmp_path / "out.csv"
    proc = _batch(variant, REPO / "models" / "policy_int8.bin", inp, out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines()[0] == "torque,torque_q12" and len(out.read_text().splitlines()) == 3


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_header_on_first_non_blank_line(tmp_path, variant):
    inp = tmp_path / "in.csv"
    inp.write_text("\n  \ntheta,theta_dot\n0,0\n\n0.5,-1\n")
    out = tmp_path / "out.csv"
    proc = _batch(variant, REPO / "models" / "policy_int8.bin", inp, out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines()[0] == "torque,torque_q12" and len(out.read_text().splitlines()) == 3
    inp.write_text("\n0,0\ntheta,theta_dot\n")  # only the first non-blank line may be the header
    proc = _batch(variant, REPO / "models" / "policy_int8.bin", inp, out)
    _fails_cleanly(proc, out, f"error: {inp} line 3: theta: 'theta' is not a number")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_batch_refuses_output_that_is_the_input(tmp_path, variant, spelling):
    inp = tmp_path / "data.csv"
    body = "theta,theta_dot\n0,0\n0.5,-1\n"
    inp.write_text(body)
    if spelling == "same":
        out = inp
    elif spelling == "dotted":
        (tmp_path / "sub").mkdir()
        out = tmp_path / "sub" / ".." / "." / "data.csv"
    else:
        out = tmp_path / "alias.csv"
        (out.symlink_to if spelling == "symlink" else out.hardlink_to)(inp)
    proc = _batch(variant, REPO / "models" / "policy_int8.bin", inp, out)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"error: {out}: is the input file: refusing to overwrite it\n", proc.stderr
    assert inp.read_text() == body  # neither truncated nor removed


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_file_by_path_where_stat_has_no_inodes(variant):
    """FAT / littlefs boards report inode 0 for every file: the check then compares absolute normalized paths
    (case-insensitive, as FAT is)."""
    code = """
from tinypolicy_app.batch import _same_file
class FakeOs:
    def stat(self, p):
        if "missing" in p:
            raise OSError(2)
        return (0x8000, 0, 0, 1, 0, 0, 10, 0, 0, 0)
    def getcwd(self):
        return "/data"
os = FakeOs()
cases = [("in.csv", "in.csv", 1), ("in.csv", "./in.csv", 1), ("in.csv", "/data/in.csv", 1),
         ("in.csv", "/data/logs/../IN.CSV", 1), ("/in.csv", "in.csv", 0), ("in.csv", "out.csv", 0),
         ("in.csv", "missing.csv", 0), ("a/in.csv", "b/in.csv", 0)]
for a, b, want in cases:
    assert _same_file(a, b, os) == bool(want), (a, b, want)
print("ok")
"""
    proc = run_micropython(["-c", code], variant=variant)
    assert proc.stdout.strip() == "ok", proc.stdout + proc.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_model_errors(tmp_path, variant):
    inp = tmp_path / "in.csv"
    inp.write_text("0,0\n")
    missing = tmp_path / "nope.bin"
    proc = _batch(variant, missing, inp, tmp_path / "out.csv")
    assert proc.returncode == 1 and proc.stderr.startswith(f"error: {missing}: cannot open")
    bad = tmp_path / "bad.bin"
    data = bytearray((REPO / "models" / "policy_q15.bin").read_bytes())
    data[100] ^= 1
    bad.write_bytes(bytes(data))
    proc = _batch(variant, bad, inp, tmp_path / "out.csv")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {bad}: crc32: CRC mismatch (stored 0x"), proc.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_device_rejects_feature_fmult_like_the_host_reader(tmp_path, variant):
    """A blob whose feature products exceed int32 (32-bit and 64-bit ports would disagree): the host reader and
    the device loader both refuse it, naming the same field."""
    import binascii
    import struct

    from tinypolicy_host.contract.blob import BlobError, decode_blob

    data = bytearray((REPO / "models" / "policy_int8.bin").read_bytes())
    struct.pack_into("<i", data, 16 + 20 * 2 + 12, 1 << 30)  # feature 0 fmult (after the header, 2 inputs)
    struct.pack_into("<I", data, len(data) - 4, binascii.crc32(data[:-4]) & 0xFFFFFFFF)
    bad = tmp_path / "fmult.bin"
    bad.write_bytes(bytes(data))
    with pytest.raises(BlobError, match=r": feature 0 fmult: .*exceeds int32"):
        decode_blob(bytes(data), str(bad))
    inp = tmp_path / "in.csv"
    inp.write_text("0,0\n")
    proc = _batch(variant, bad, inp, tmp_path / "out.csv")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"error: {bad}: feature 0 fmult: |16384*1073741824| + R("), proc.stderr
    assert "exceeds int32" in proc.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_usage_errors(variant):
    proc = run_micropython(["-m", "tinypolicy", "batch", "--model", "x.bin"], variant=variant)
    assert proc.returncode == 2 and proc.stderr.startswith("error: missing --input")
    proc = run_micropython(["-m", "tinypolicy", "frobnicate"], variant=variant)
    assert proc.returncode == 2 and "unknown command" in proc.stderr


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("end", ["quit\n", ""])
def test_serve(variant, end):
    rows = _golden_rows("golden_w8a16.csv", 20)
    text = "".join(f"{int(t) / 4096!r},{int(w) / 4096!r}\n" for t, w, _ in rows) + "oops\n" + end
    proc = run_micropython(["-m", "tinypolicy", "serve", "--model", REPO / "models" / "policy_int8.bin"],
                           variant=variant, input_text=text)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(rows) + 1
    for (_t, _w, want), got in zip(rows, lines[:-1], strict=True):
        assert round(float(got) * 4096) == int(want)
    assert lines[-1].startswith(f"error: line {len(rows) + 1}: expected 2 columns")



@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_error_keeps_dev_paths(tmp_path, variant):
    # The partial OUT.csv is removed only when it is a regular file outside /dev/ and /proc/: os.stat follows
    # /dev/stdout to the file stdout is redirected to, and os.remove would delete the /dev/stdout symlink itself.
    # Observed harmlessly with a regular file in /dev/shm (tmpfs).
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    inp = tmp_path / "in.csv"
    inp.write_text("0,0\n1,x\n")
    out = shm / f"tinypolicy_test_batch_{os.getpid()}_{variant}.csv"
    try:
        proc = _batch(variant, REPO / "models" / "policy_int8.bin", inp, out)
        assert proc.returncode == 1 and "line 2: theta_dot" in proc.stderr, proc.stderr
        assert out.exists()
    finally:
        out.unlink(missing_ok=True)
