# device: blob loader (version 2): good blobs load; every check raises ModelError naming file and field.
import gc
import os
import struct

from v2blob import offsets, random_net, recrc

from tinypolicy import ModelError, Policy
from tinypolicy.loader import load

TMP = "build/tmp"


def _base(dtype="int8", argmax=False, a16=False):
    """angle, affine, affine inputs (4 features) -> 8 relu -> 3 outputs (argmax: 4 classes); bytearray."""
    if argmax:
        return bytearray(random_net(dtype, (1, 0, 0), (8, 4), (1, 0), argmax=True, seed=3))
    return bytearray(random_net(dtype, (1, 0, 0), (8, 3), (1, 0), a16=a16, seed=3))


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


def _rejects(name, data, *words, **kw):
    path = _write(name, data)
    try:
        load(path, **kw)
    except ModelError as exc:
        msg = str(exc)
        assert msg.startswith(path + ": "), msg
        for w in words:
            assert w in msg, (w, msg)
        return msg
    finally:
        os.remove(path)
    raise AssertionError("%s: loaded without error" % name)


def _edit(data, off, fmt, value):
    """A copy of data with one field set and the CRC recomputed."""
    d = bytearray(data)
    struct.pack_into(fmt, d, off, value)
    return recrc(d)


def test_good_blobs_load():
    for dtype in ("f32", "int8", "q15"):
        m = load(_write("good_%s.bin" % dtype, _base(dtype)))
        assert m.dtype == dtype and m.n_layers == 2 and m.n_inputs == 3 and m.n_features == 4 and m.n_outputs == 3
    assert load(_write("good_a16.bin", _base(a16=True))).scheme == "w8a16"
    assert load(_write("good_argmax.bin", _base(argmax=True))).argmax


def test_missing_file():
    try:
        Policy.load("build/no_such_policy.bin")
    except ModelError as exc:
        assert "build/no_such_policy.bin" in str(exc) and "cannot open" in str(exc), str(exc)
        return
    raise AssertionError("no ModelError")


def test_directory_and_non_regular_files():
    try:
        load("tests")
    except ModelError as exc:
        assert str(exc) == "tests: read: is a directory", str(exc)
    else:
        raise AssertionError("a directory loaded")
    from devtest import file_exists, skip

    if not file_exists("/dev/null"):
        skip("no /dev/null on this port")
    try:  # a character device; a FIFO takes the same stat-mode check (reading it could block forever)
        load("/dev/null")
    except ModelError as exc:
        assert "/dev/null: read: not a regular file" in str(exc), str(exc)
        return
    raise AssertionError("/dev/null loaded")


def test_max_bytes_refused_with_the_size_needed():
    data = _base()
    _rejects("max.bin", data, "file size", "needs %d bytes, max_bytes is 100" % len(data), max_bytes=100)
    big = _write("big.bin", b"")
    with open(big, "wb") as f:  # 96 KiB + 4: over the default limit, never read
        for _ in range(24):
            f.write(bytes(4096))
        f.write(b"TPOL")
    gc.collect()
    before = gc.mem_alloc()
    try:
        load(big)
    except ModelError as exc:
        assert "needs 98308 bytes, max_bytes is 98304" in str(exc), str(exc)
    else:
        raise AssertionError("loaded")
    finally:
        os.remove(big)
    gc.collect()
    assert gc.mem_alloc() - before < 4096


def test_header_checks():
    data = _base()
    _rejects("trunc.bin", data[:10], "header", "truncated")
    _rejects("magic.bin", b"XPOL" + data[4:], "magic")
    msg = _rejects("v1.bin", _edit(data, 4, "<H", 1), "version")
    assert "version 1 blobs are no longer loaded: re-export with `tinypolicy export` / `tinypolicy convert`" in msg
    _rejects("v3.bin", _edit(data, 4, "<H", 3), "version", "3 is not supported")
    _rejects("dtype.bin", _edit(data, 6, "B", 3), "dtype", "3")
    _rejects("flags.bin", _edit(data, 7, "B", 4), "flags", "0x04")
    _rejects("a16_q15.bin", _edit(_base("q15"), 7, "B", 1), "flags")
    for off, field, bad in ((8, "n_layers", 0), (8, "n_layers", 9), (9, "n_inputs", 0), (9, "n_inputs", 65),
                            (10, "n_features", 0), (10, "n_features", 129), (11, "n_outputs", 0),
                            (11, "n_outputs", 17)):
        _rejects(field + ".bin", _edit(data, off, "B", bad), field, str(bad))
    _rejects("argmax_outs.bin", _edit(_base(argmax=True), 11, "B", 2), "n_outputs", "1..1")
    _rejects("padded.bin", recrc(bytearray(data + b"\0\0\0\0")), "total_size")
    _rejects("total.bin", _edit(data, 12, "<I", 1 << 31), "total_size", str(1 << 31))
    _rejects("body.bin", data[:len(data) - 100], "total_size")


def test_n_features_must_match_the_inputs():
    data = _base()  # angle + 2 affine = 4 features; claim 5: the tables then disagree
    _rejects("nf.bin", _edit(data, 10, "B", 5), "n_features", "implies 4")


def test_input_table_checks():
    data = _base()
    i0, i1 = 16, 36  # input 0 is an angle, input 1 affine
    _rejects("kind.bin", _edit(data, i1, "B", 2), "input 1 kind", "2")
    _rejects("frac.bin", _edit(data, i1 + 1, "B", 25), "input 1 frac", "25")
    _rejects("angle_frac.bin", _edit(data, i0 + 1, "B", 11), "input 0 frac", "11")
    _rejects("nan.bin", _edit(data, i1 + 4, "<f", float("nan")), "input 1 offset/scale/lo/hi", "not finite")
    _rejects("inf.bin", _edit(data, i1 + 16, "<f", float("inf")), "input 1 offset/scale/lo/hi", "not finite")
    _rejects("angle_scale.bin", _edit(data, i0 + 8, "<f", 2.0), "input 0 offset/scale/lo/hi", "angle")
    _rejects("lohi.bin", _edit(data, i1 + 12, "<f", 100.0), "input 1 lo/hi", "lo < hi")


def test_feature_table_checks():
    data = _base()
    f = offsets(data)["features"]  # features 0, 1: cos, sin of input 0; 2, 3: affine inputs 1, 2
    _rejects("fshift.bin", _edit(data, f + 16, "B", 32), "feature 0 fshift", "32")
    _rejects("angle_q.bin", _edit(data, f + 20 + 4, "<i", -5), "feature 1 qoff/qlo/qhi")
    _rejects("qlohi.bin", _edit(data, f + 40 + 4, "<i", 1 << 30), "feature 2 qlo/qhi")
    # the int32 bound: |qhi - qoff| * |fmult| + R(fshift) < 2^31, the largest fmult loads, one more does not
    qoff, qlo, qhi, fmult, fshift = struct.unpack_from("<iiiiB", data, f + 40)
    src = max(abs(qlo - qoff), abs(qhi - qoff))
    top = (0x7FFFFFFF - ((1 << fshift) >> 1)) // src
    assert load(_write("ftop.bin", _edit(data, f + 40 + 12, "<i", -top))).n_features == 4
    _rejects("fover.bin", _edit(data, f + 40 + 12, "<i", -top - 1), "feature 2 fmult", "exceeds int32")
    _rejects("fangle.bin", _edit(data, f + 12, "<i", 1 << 17), "feature 0 fmult", "|16384*131072|")
    f32 = _base("f32")
    _rejects("f32_feat.bin", _edit(f32, offsets(f32)["features"] + 12, "<i", 1), "feature 0 table", "f32")


def test_layer_table_checks():
    data = _base()
    lay = offsets(data)["layers"]  # layer 0: 4 -> 8 relu, layer 1: 8 -> 3 identity
    _rejects("chain.bin", _edit(data, lay + 16, "<H", 7), "layer 1 n_in", "7")
    _rejects("units0.bin", _edit(data, lay + 2, "<H", 0), "layer 0 n_out", "0")
    _rejects("last.bin", _edit(data, lay + 16 + 2, "<H", 2), "layer 1 n_out")
    _rejects("act.bin", _edit(data, lay + 4, "B", 6), "layer 0 activation", "6")
    clip = _edit(data, lay + 4, "B", 5)  # an integer clip layer: identity's clamp to lo, hi (here 0..hi)
    assert load(_write("clip.bin", clip)).layers[0][2] == 5
    _rejects("pshift.bin", _edit(data, lay + 5, "B", 16), "layer 0 pshift", "16")
    _rejects("relu_lo.bin", _edit(data, lay + 8, "<i", -1), "layer 0 lo", "relu")
    _rejects("lohi.bin", _edit(data, lay + 16 + 8, "<i", 1 << 21), "layer 1 lo/hi", "lo")
    tanh = _edit(data, lay + 4, "B", 2)  # layer 0 as tanh: its clamp (0..127) is legal, +-16385 is not
    assert load(_write("tanh.bin", tanh)).layers[0][2] == 2
    _rejects("tanh_hi.bin", _edit(tanh, lay + 12, "<i", 16385), "layer 0 lo/hi", "tanh", "16385")
    ident = _edit(data, lay + 4, "B", 0)  # a hidden identity layer: lo / hi must fit the int16 buffers
    _rejects("int16.bin", _edit(ident, lay + 12, "<i", 40000), "layer 0 lo/hi", "int16")
    f32 = _base("f32")
    fl = offsets(f32)["layers"]
    _rejects("f32_lo.bin", _edit(f32, fl + 8, "<i", 3), "layer 0 pshift/lo/hi", "f32")
    # an f32 clip layer keeps float32 bounds in lo, hi: finite, lo < hi, pshift 0
    fclip = _edit(_edit(_edit(f32, fl + 4, "B", 5), fl + 8, "<f", -0.5), fl + 12, "<f", 2.0)
    assert load(_write("fclip.bin", fclip)).layers[0][2:6] == [5, 0, -0.5, 2.0]
    _rejects("fclip0.bin", _edit(f32, fl + 4, "B", 5), "layer 0 pshift/lo/hi", "clip")
    _rejects("fclip_nan.bin", _edit(fclip, fl + 12, "<f", float("nan")), "layer 0 pshift/lo/hi", "clip")
    _rejects("fclip_p.bin", _edit(fclip, fl + 5, "B", 1), "layer 0 pshift/lo/hi", "clip")


def test_widths_limits():
    gc.collect()
    before = gc.mem_alloc()
    data = _base()
    lay = offsets(data)["layers"]
    _rejects("wide.bin", _edit(data, lay + 2, "<H", 257), "layer 0 n_out", "257")
    _rejects("huge.bin", _edit(data, lay + 2, "<H", 65535), "layer 0 n_out", "65535")
    gc.collect()
    assert gc.mem_alloc() - before < 8192  # refused from the tables: nothing sized by the file allocated


def test_output_table_checks():
    data = _base()
    o = offsets(data)["outputs"]  # frac, oshift, 2x, scale, offset, lo, hi, omult, ooff, qlo, qhi
    _rejects("o_nan.bin", _edit(data, o + 16, "<f", float("nan")), "output 0 scale/offset/lo/hi", "not finite")
    _rejects("o_frac.bin", _edit(data, o, "B", 25), "output 0 frac", "25")
    _rejects("o_oshift.bin", _edit(data, o + 1, "B", 32), "output 0 oshift", "32")
    _rejects("o_lohi.bin", _edit(data, o + 12, "<f", 2000.0), "output 0 lo/hi", "declared range")
    frac = data[o]
    _rejects("o_big.bin", _edit(_edit(data, o + 16, "<f", 1e9), o + 12, "<f", -1e9), "output 0 lo/hi", "2^24")
    # issue 11 item 1: an integer clamp beyond the declared range (here 2x the declared hi) is refused
    qhi = struct.unpack_from("<i", data, o + 32)[0]
    msg = _rejects("o_clamp.bin", _edit(data, o + 32, "<i", 2 * qhi), "output 0 qlo/qhi", "within the declared range")
    assert ("Q%d" % frac) in msg, msg
    _rejects("o_q.bin", _edit(data, o + 28, "<i", qhi + 1), "output 0 qlo/qhi", "qlo <= qhi")
    am = _base(argmax=True)
    _rejects("o_argmax.bin", _edit(am, offsets(am)["outputs"] + 20, "<i", 2), "output 0 table", "argmax")
    o = offsets(am)["outputs"]
    _rejects("o_argmax_hi.bin", _edit(_edit(am, o + 16, "<f", 7.0), o + 32, "<i", 7), "output 0 table", "argmax")


def test_crc():
    data = _base()
    data[offsets(data)["sections"] + 3] ^= 0x55
    msg = _rejects("crc.bin", data, "crc32", "CRC mismatch (stored 0x", "computed 0x")
    assert msg.startswith(TMP + "/crc.bin: crc32: "), msg


def test_f32_non_finite_parameters_name_the_layer():
    data = _base("f32")
    w, b, _m, _s = offsets(data)["sec"][1]
    _rejects("f32_nan_w.bin", _edit(data, w + 8, "<f", float("nan")), "layer 1 weights", "not finite (element 2)")
    _rejects("f32_inf_b.bin", _edit(data, b, "<f", float("-inf")), "layer 1 bias", "not finite")


def test_shift_and_int32_bounds_of_the_dense_layers():
    data = _base()
    w, b, m, s = offsets(data)["sec"][0]
    _rejects("shift.bin", _edit(data, s + 1, "B", 32), "layer 0 shift", "32")
    _rejects("bias.bin", _edit(data, b, "<i", 0x7FFFFFFF), "layer 0 bias/weight", "accumulator bound")
    _rejects("mult.bin", _edit(data, m + 4, "<i", 1 << 30), "layer 0 mult", "unit 1")
    q = _base("q15")
    w, b, m, s = offsets(q)["sec"][0]
    lay = offsets(q)["layers"]
    _rejects("q_pshift.bin", _edit(q, lay + 5, "B", 0), "layer 0")  # without the product shift the sum overflows


def test_output_stage_int32_bound():
    data = _base()
    o = offsets(data)["outputs"]
    _rejects("omult.bin", _edit(data, o + 20, "<i", 1 << 12), "output 0 omult", "int32")


def test_host_written_blobs_load_when_present():
    """Every blob of the host's golden manifest loads (v2 host writer -> device loader)."""
    from golden import entries

    n = 0
    for net, e in entries():
        if e["bytes"] > 32768:  # the 256-wide nets need ~95 KB of heap: test_golden.py (bigger heap) loads them
            continue
        m = None
        gc.collect()
        m = load(e["blob"], e.get("max_bytes", 98304))
        assert m.dtype == e["dtype"] and m.scheme == e["scheme"], (e["blob"], m.scheme)
        n += 1
    assert n >= 1
