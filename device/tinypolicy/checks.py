# device: the loader's checks of the tables and parameters (a module apart: compiling one big loader from source
# needs more contiguous heap than a board-sized heap keeps after the app's buffers). Rules: loader.py docstring.
# Each check calls fail(field, what) (loader.load's: raises ModelError "<path>: <field>: <what>").
import struct

from micropython import const

_I32 = const(0x7FFFFFFF)
_Q24 = const(16777216)  # |declared range| * 2^frac and |qlo|, |qhi| below 2^24: exact in single precision


def _finite(xs):
    for x in xs:
        if x - x != 0:  # nan - nan and inf - inf are nan
            return False
    return True


def _top(fail, field, v, top):
    if v > top:
        fail(field, "%d exceeds %d" % (v, top))


def inputs(tabs, n_inputs, n_features, fail):
    """The input table: [(kind, frac, offset, scale, lo, hi)]."""
    ins = []
    nf = 0
    for i in range(n_inputs):
        e = struct.unpack_from("<BB2xffff", tabs, 20 * i)
        kind = e[0]
        n = "input %d " % i
        if kind > 1:
            fail(n + "kind", "%d: 0 affine, 1 angle" % kind)
        if e[1] > 24 or kind and e[1] != 12:
            fail(n + "frac", "%d: 0..24, Q12 for an angle" % e[1])
        if not _finite(e[2:]):
            fail(n + "offset/scale/lo/hi", "not finite")
        if kind and any(e[2:]):
            fail(n + "offset/scale/lo/hi", "must be 0 for an angle")
        if not kind and not e[4] < e[5]:
            fail(n + "lo/hi", "%r, %r: need lo < hi" % e[4:])
        ins.append(e)
        nf += 1 + kind
    if nf != n_features:
        fail("n_features", "%d, the input table implies %d" % (n_features, nf))
    return ins


def features(tabs, base, inputs, quant, fail):
    """The feature table; returns per input (kind, frac, qlo, qhi) (Policy.infer's conversion)."""
    f = 0
    conv = []
    for e in inputs:
        kind = e[0]
        for c in range(1 + kind):
            n = "feature %d " % f
            qoff, qlo, qhi, fmult, fshift = struct.unpack_from("<iiiiB", tabs, base + 20 * f)
            if not c:
                conv.append((kind, e[1], qlo, qhi))
            if not quant:
                if qoff or qlo or qhi or fmult or fshift:
                    fail(n + "table", "must be 0 in an f32 blob")
            else:
                _top(fail, n + "fshift", fshift, 31)
                if kind and (qoff or qlo or qhi):
                    fail(n + "qoff/qlo/qhi", "must be 0 for an angle")
                if qlo > qhi:
                    fail(n + "qlo/qhi", "%d > %d" % (qlo, qhi))
                src = 16384 if kind else max(abs(qlo - qoff), abs(qhi - qoff))
                if src * abs(fmult) + ((1 << fshift) >> 1) > _I32:  # 32-bit and 64-bit ports would disagree
                    fail(n + "fmult", "|%d*%d| + R(%d) exceeds int32" % (src, fmult, fshift))
            f += 1
    return tuple(conv)


def layers(tabs, base, n_layers, n_features, n_outputs, quant, argmax, fail):
    """The layer table: [[n_in, n_out, act, pshift, lo, hi]] (f32 clip: lo, hi floats; the loader appends w_off,
    b_off) and the last n_out. Integer blobs: a clip layer (5) is identity's clamp to lo, hi."""
    prev = n_features
    lays = []
    for k in range(n_layers):
        n_in, n_out, act, p, lo, hi = t = struct.unpack_from("<HHBB2xii", tabs, base + 16 * k)
        n = "layer %d " % k
        last = k == n_layers - 1
        if n_in != prev:
            fail(n + "n_in", "%d, the previous layer has %d outputs" % (n_in, prev))
        low = 2 if argmax and last else 1
        top = 16 if last and not argmax else 256
        if not low <= n_out <= top:
            fail(n + "n_out", "%d is outside %d..%d" % (n_out, low, top))
        if last and not argmax and n_out != n_outputs:
            fail(n + "n_out", "%d != n_outputs %d" % (n_out, n_outputs))
        if act > 5:
            fail(n + "activation", "%d: 0 identity, 1 relu, 2 tanh, 3 hardtanh, 4 sigmoid, 5 clip" % act)
        _top(fail, n + "pshift", p, 15)
        if not quant:
            if act == 5:  # f32 clip: lo, hi are float32 bounds
                t = struct.unpack_from("<HHBB2xff", tabs, base + 16 * k)
                if p or not (_finite(t[4:]) and t[4] < t[5]):
                    fail(n + "pshift/lo/hi", "f32 clip: pshift 0, finite float32 lo < hi")
            elif p or lo or hi:
                fail(n + "pshift/lo/hi", "must be 0 in an f32 blob")
        elif lo > hi:
            fail(n + "lo/hi", "%d > %d" % (lo, hi))
        elif act == 1 and lo:
            fail(n + "lo", "%d: a relu layer needs lo = 0" % lo)
        elif act == 2 or act == 4:  # tanh, sigmoid: lo, hi clamp the table's input
            if lo < -16384 or hi > 16384:
                fail(n + "lo/hi", "%d, %d: outside +-16384 (tanh/sigmoid)" % (lo, hi))
        elif not last and (lo < -32768 or hi > 32767):
            fail(n + "lo/hi", "%d, %d: outside int16 (hidden layer)" % (lo, hi))
        lays.append(list(t))
        prev = n_out
    return lays, prev


def outputs(tabs, base, n_outputs, argmax, n_classes, fail):
    """The output table: [(frac, oshift, scale, offset, lo, hi, omult, ooff, qlo, qhi)]."""
    outs = []
    for j in range(n_outputs):
        n = "output %d " % j
        e = struct.unpack_from("<BB2xffffiiii", tabs, base + 36 * j)
        frac, oshift, _s, _o, lo, hi, _m, _f, qlo, qhi = e
        if not _finite(e[2:6]):
            fail(n + "scale/offset/lo/hi", "not finite")
        _top(fail, n + "frac", frac, 24)
        _top(fail, n + "oshift", oshift, 31)
        m = 1 << frac
        if not (lo <= hi and -_Q24 < lo * m and hi * m < _Q24):
            fail(n + "lo/hi", "declared range %r..%r: need lo <= hi, |x| * 2^%d < 2^24" % (lo, hi, frac))
        if qlo > qhi or qlo < lo * m or qhi > hi * m:
            fail(n + "qlo/qhi", "%d..%d (Q%d): need qlo <= qhi within the declared range" % (qlo, qhi, frac))
        if argmax and e != (0, 0, 1.0, 0.0, 0.0, n_classes - 1.0, 1, 0, 0, n_classes - 1):
            fail(n + "table", "an argmax head is frac 0, scale 1, range 0..%d, omult 1" % (n_classes - 1))
        outs.append(e)
    return outs


def floats_finite(blob, layers, fail):
    for k in range(len(layers)):
        n_in, n_out, _a, _p, _l, _h, w_off, b_off = layers[k]
        for field, off, n in (("weights", w_off, n_in * n_out), ("bias", b_off, n_out)):
            for i in range(off, off + 4 * n, 4):
                if (blob[i + 3] & 0x7F) == 0x7F and blob[i + 2] & 0x80:  # exponent all ones: inf or nan
                    fail("layer %d %s" % (k, field), "not finite (element %d)" % ((i - off) // 4))


def dense_bounds(blob, layers, outputs, wide, a16, argmax, fail):
    """The host reader's int32 rule (contract/int32_bound_violations), per layer from the parameters alone:
    the accumulator bound |b| + sum_i ceil(|W_ji| * xmax / 2^p) and |acc| * |mult| + R(shift) below 2^31, with
    xmax = the largest |activation| entering the layer (features: 128 for A8, 32768 for A16 and q15; after tanh
    127 (A8) / 32767, after sigmoid 256 (A8) / 32767, else max(|lo|, |hi|)); then each shift <= 31 and the output
    stage's max(|lo|, |hi|, xmax_out) * |omult| + R(oshift) + |ooff|. (|W| * xmax itself needs no check: |W| <=
    2^15 and xmax <= 2^15, the layer checks keep hidden clamps in int16.)"""
    xmax = 32768 if a16 else 128
    wfmt = "<%dh" if wide else "<%db"
    for k in range(len(layers)):
        n_in, n_out, act, p, lo, hi, w_off, b_off = layers[k]
        n = "layer %d " % k
        r = (1 << p) - 1
        row = wfmt % n_in
        for j in range(n_out):
            s = blob[b_off + 8 * n_out + j]
            _top(fail, n + "shift", s, 31)
            acc = abs(struct.unpack_from("<i", blob, b_off + 4 * j)[0])
            for v in struct.unpack_from(row, blob, w_off + (1 + wide) * n_in * j):
                acc += (abs(v) * xmax + r) >> p
            if acc > _I32:
                fail(n + "bias/weight", "accumulator bound %d exceeds int32" % acc)
            if acc * abs(struct.unpack_from("<i", blob, b_off + 4 * (n_out + j))[0]) + ((1 << s) >> 1) > _I32:
                fail(n + "mult", "exceeds int32 (unit %d)" % j)
        if act == 2 or act == 4:
            xmax = 32767 if a16 else (127 if act == 2 else 256)
        else:
            xmax = max(abs(lo), abs(hi))
    if argmax:
        return
    for j in range(len(outputs)):
        e = outputs[j]
        if max(abs(lo), abs(hi), xmax) * abs(e[6]) + ((1 << e[1]) >> 1) + abs(e[7]) > _I32:
            fail("output %d omult" % j, "can exceed int32")
