# device: blob loader: good blobs load; every rejection path raises ModelError naming file and field.
import gc
import os
import struct

from tinypolicy import ModelError, Policy
from tinypolicy.loader import load

GOOD = "models/policy_int8.bin"
TMP = "build/tmp"


def _read(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def _crc(data):
    from binascii import crc32

    struct.pack_into("<I", data, len(data) - 4, crc32(memoryview(data)[: len(data) - 4]) & 0xFFFFFFFF)
    return data


def _write(name, data):
    for d in ("build", TMP):
        try:
            os.mkdir(d)
        except OSError:
            pass
    path = TMP + "/" + name
    with open(path, "wb") as f:
        f.write(data)
    return path


def _rejects(name, data, *words):
    path = _write(name, data)
    try:
        load(path)
    except ModelError as exc:
        msg = str(exc)
        assert msg.startswith(path + ": "), msg
        for w in words:
            assert w in msg, (w, msg)
        return msg
    finally:
        os.remove(path)
    raise AssertionError("%s: loaded without error" % name)


def _layer_field(data, k, off, fmt, value, fix_crc=True):
    struct.pack_into(fmt, data, 48 + 16 * k + off, value)
    return _crc(data) if fix_crc else data


def test_good_blobs_load():
    for dtype in ("f32", "int8", "q15"):
        m = load("models/policy_%s.bin" % dtype)
        assert m.dtype == dtype and m.n_layers >= 1 and m.max_torque > 0


def test_missing_file():
    try:
        Policy.load("models/no_such_policy.bin")
    except ModelError as exc:
        assert "models/no_such_policy.bin" in str(exc) and "cannot open" in str(exc), str(exc)
        return
    raise AssertionError("no ModelError")


def test_truncated():
    data = _read(GOOD)
    _rejects("trunc_header.bin", data[:10], "header", "truncated")
    _rejects("trunc_body.bin", data[: len(data) - 100], "total_size")
    _rejects("trunc_empty.bin", b"", "header")


def test_size_mismatch_and_total_size():
    data = _read(GOOD)
    _rejects("padded.bin", data + b"\0\0\0\0", "total_size")
    big = bytearray(data)
    struct.pack_into("<I", big, 12, 1 << 31)
    _rejects("total_claim.bin", _crc(big), "total_size", str(1 << 31))


def test_bad_magic():
    data = _read(GOOD)
    data[0:4] = b"XPOL"
    _rejects("magic.bin", data, "magic")


def test_wrong_version_and_dtype():
    data = _read(GOOD)
    struct.pack_into("<H", data, 4, 2)
    _rejects("version.bin", _crc(data), "version", "2")
    data = _read(GOOD)
    data[6] = 7
    _rejects("dtype.bin", _crc(data), "dtype", "7")


def test_bad_crc():
    data = _read(GOOD)
    data[200] ^= 0x55
    msg = _rejects("crc.bin", data, "crc32", "CRC mismatch (stored 0x", "computed 0x")
    assert msg.startswith(TMP + "/crc.bin: crc32: "), msg


def test_absurd_dims_rejected_without_allocating():
    data = _read(GOOD)
    big = _layer_field(bytearray(data), 1, 2, "<H", 65535)  # layer 1 n_out = 65535 units
    gc.collect()
    before = gc.mem_alloc()
    _rejects("units.bin", big, "layer 1 n_out", "65535", "64")
    gc.collect()
    assert gc.mem_alloc() - before < 4096
    _rejects("zero_units.bin", _layer_field(bytearray(data), 0, 2, "<H", 0), "layer 0 n_out", "0")
    nl = bytearray(data)
    nl[7] = 200
    _rejects("n_layers.bin", _crc(nl), "n_layers", "200")


def test_chained_dims_and_counts():
    data = _read(GOOD)
    _rejects("chain.bin", _layer_field(bytearray(data), 1, 0, "<H", 5), "layer 1 n_in", "5")
    for off, field in ((8, "n_inputs"), (9, "n_features"), (10, "n_outputs")):
        bad = bytearray(data)
        bad[off] = 4
        _rejects(field + ".bin", _crc(bad), field)


def test_field_limits():
    data = _read(GOOD)
    _rejects("pshift.bin", _layer_field(bytearray(data), 0, 5, "B", 16), "layer 0 pshift", "16")
    _rejects("act.bin", _layer_field(bytearray(data), 0, 4, "B", 9), "layer 0 activation", "9")
    _rejects("relu_lo.bin", _layer_field(bytearray(data), 0, 8, "<i", -1), "layer 0 lo")
    bad = bytearray(data)
    struct.pack_into("B", bad, 24 + 4, 40)  # feature 0 fshift
    _rejects("fshift.bin", _crc(bad), "feature 0 fshift", "40")
    # layer 0 per-output shift: the byte after bias and mult (offsets as the loader computes them)
    m = load(GOOD)
    n_in, n_out, _act, _w, b_off = m.layers[0]
    bad = bytearray(data)
    bad[b_off + 8 * n_out] = 32
    _rejects("shift.bin", _crc(bad), "layer 0 shift", "32")


def test_feature_fmult_products_must_fit_int32():
    """|v * fmult| + R(fshift) < 2^31 for v up to 16384 (cos, sin Q14) and 131072 (theta_dot Q12 clamp), as the
    host reader requires: beyond it 32-bit ports wrap where 64-bit ones do not."""
    data = _read(GOOD)
    bad = bytearray(data)
    struct.pack_into("<i", bad, 24, 1 << 30)  # feature 0 (cos): 16384 * 2^30
    _rejects("fmult.bin", _crc(bad), "feature 0 fmult", "|16384*1073741824| + R(", "exceeds int32")
    bad = bytearray(data)
    struct.pack_into("<i", bad, 24 + 8, -(1 << 31))  # feature 1 (sin): |int32 min|
    _rejects("fmult_min.bin", _crc(bad), "feature 1 fmult", "exceeds int32")
    # the bound itself, for theta_dot with its stored fshift: the largest |fmult| loads, one more does not
    fshift = data[24 + 16 + 4]
    top = ((1 << 31) - 1 - ((1 << fshift) >> 1)) // 131072
    for fmult in (top, -top):
        ok = bytearray(data)
        struct.pack_into("<i", ok, 24 + 16, fmult)
        path = _write("fmult_top.bin", _crc(ok))
        try:
            assert load(path).desc[4 + 2] == fmult
        finally:
            os.remove(path)
        struct.pack_into("<i", ok, 24 + 16, fmult + (1 if fmult > 0 else -1))
        _rejects("fmult_over.bin", _crc(ok), "feature 2 fmult", "|131072*%d|" % (fmult + (1 if fmult > 0 else -1)))


def test_hardtanh_and_sigmoid_codes():
    hs = "tests/data/golden/hardtanh_sigmoid/policy_hs_%s.bin"
    for dtype in ("f32", "int8", "q15"):
        m = load(hs % dtype)
        assert [t[2] for t in m.layers] == [4, 3, 4, 0], m.layers  # sigmoid, hardtanh, sigmoid, identity
        if dtype != "f32":
            assert [m.desc[11 + 8 * k + 2] for k in range(4)] == [4, 3, 4, 0]
    data = _read(hs % "int8")
    # layer 0 is sigmoid: its pre-activation clamp must stay inside the tanh table (+-16384)
    _rejects("sig_lo.bin", _layer_field(bytearray(data), 0, 8, "<i", -16385), "layer 0 lo/hi", "sigmoid", "-16385")
    _rejects("sig_hi.bin", _layer_field(bytearray(data), 2, 12, "<i", 16385), "layer 2 lo/hi", "sigmoid", "16385")
    # layer 1 is hardtanh: lo / hi are an ordinary clamp, so they must fit the int16 activation buffers
    _rejects("ht_hi.bin", _layer_field(bytearray(data), 1, 12, "<i", 40000), "layer 1 lo/hi", "int16")
    _rejects("act5.bin", _layer_field(bytearray(data), 0, 4, "B", 5), "layer 0 activation", "5", "4 sigmoid")


def test_file_too_large():
    _write("huge.bin", b"")
    path = TMP + "/huge.bin"
    chunk = bytes(4096)
    with open(path, "wb") as f:
        for _ in range(16):
            f.write(chunk)
        f.write(b"TPOL")
    try:
        load(path)
    except ModelError as exc:
        assert "file size" in str(exc) and "65540" in str(exc), str(exc)
        return
    finally:
        os.remove(path)
    raise AssertionError("no ModelError")


def test_rejections_of_q15_and_f32_blobs_too():
    for dtype in ("f32", "q15"):
        data = _read("models/policy_%s.bin" % dtype)
        data[-1] ^= 1
        _rejects("crc_%s.bin" % dtype, data, "crc32")
    data = _read("models/policy_f32.bin")
    _rejects("f32_lo.bin", _layer_field(data, 0, 8, "<i", 3), "layer 0 pshift/lo/hi")


def test_directory_is_a_model_error():
    for path in ("models", "tests"):
        for fn in (load, Policy.load):
            try:
                fn(path)
            except ModelError as exc:
                assert str(exc) == path + ": read: is a directory", str(exc)
                continue
            raise AssertionError("%s: loaded without error" % path)


def test_read_error_is_a_model_error():
    from devtest import file_exists, skip

    path = "/proc/self/mem"  # Linux: stat size 0, open works, read at offset 0 fails with EIO
    if not file_exists(path):
        skip("no %s on this port" % path)
    try:
        load(path)
    except ModelError as exc:
        assert str(exc).startswith(path + ": read: "), str(exc)
        return
    raise AssertionError("no ModelError")
