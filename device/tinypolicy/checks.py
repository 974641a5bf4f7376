# device: the loader's checks of the tables and parameters (a module apart: compiling one big loader from source
# needs more contiguous heap than a board-sized heap keeps after the app's buffers). Rules: loader.py docstring.
import struct

from micropython import const

ACTIVATIONS = ("identity", "relu", "tanh", "hardtanh", "sigmoid")
_IN_SIZE = const(20)
_FEAT_SIZE = const(20)
_LAYER_SIZE = const(16)
_OUT_SIZE = const(36)
_TANH_LIMIT = const(16384)
_I32 = const(0x7FFFFFFF)
_Q24 = const(16777216)  # |declared range| * 2^frac and |qlo|, |qhi| below 2^24: exact in single precision


def _finite(*xs):
    for x in xs:
        if x - x != 0:  # nan - nan and inf - inf are nan
            return False
    return True


def _r(s):
    return (1 << s) >> 1


def inputs(tabs, n_inputs, n_features, fail):
    inputs = []
    nf = 0
    for i in range(n_inputs):
        name = "input %d " % i
        kind, frac, off, scale, lo, hi = struct.unpack_from("<BB2xffff", tabs, _IN_SIZE * i)
        if kind > 1:
            fail(name + "kind", "unknown code %d (0 affine, 1 angle)" % kind)
        if frac > 24 or (kind and frac != 12):
            fail(name + "frac", "%d: 0..24, an angle input is Q12" % frac)
        if not _finite(off, scale, lo, hi):
            fail(name + "offset/scale/lo/hi", "not finite")
        if kind and (off or scale or lo or hi):
            fail(name + "offset/scale/lo/hi", "must be 0 for an angle input")
        if not kind and not lo < hi:
            fail(name + "lo/hi", "%r, %r: an affine input needs lo < hi" % (lo, hi))
        inputs.append((kind, frac, off, scale, lo, hi))
        nf += 1 + kind
    if nf != n_features:
        fail("n_features", "%d, the input table implies %d" % (n_features, nf))
    return inputs


def features(tabs, base, inputs, quant, fail):
    """Checks the feature table; returns per input (kind, frac, qlo, qhi) (Policy.infer's conversion)."""
    f = 0
    conv = []
    for kind, frac, _o, _s, _l, _h in inputs:
        conv.append((kind, frac) + struct.unpack_from("<ii", tabs, base + _FEAT_SIZE * f + 4))
        for _ in range(1 + kind):
            name = "feature %d " % f
            qoff, qlo, qhi, fmult, fshift = struct.unpack_from("<iiiiB", tabs, base + _FEAT_SIZE * f)
            if not quant:
                if qoff or qlo or qhi or fmult or fshift:
                    fail(name + "table", "must be all zero in an f32 blob")
            elif fshift > 31:
                fail(name + "fshift", "%d exceeds 31" % fshift)
            elif kind and (qoff or qlo or qhi):
                fail(name + "qoff/qlo/qhi", "must be 0 for an angle feature")
            elif qlo > qhi:
                fail(name + "qlo/qhi", "qlo %d > qhi %d" % (qlo, qhi))
            else:
                src = 16384 if kind else max(abs(qlo - qoff), abs(qhi - qoff))
                if src * abs(fmult) + _r(fshift) > _I32:  # 32-bit and 64-bit ports would disagree
                    fail(name + "fmult", "|%d*%d| + R(%d) exceeds int32" % (src, fmult, fshift))
            f += 1
    return tuple(conv)


def layers(tabs, base, n_layers, n_features, n_outputs, dcode, argmax, fail):
    quant = dcode != 0
    prev = n_features
    layers = []
    for k in range(n_layers):
        n_in, n_out, act, pshift, lo, hi = struct.unpack_from("<HHBB2xii", tabs, base + _LAYER_SIZE * k)
        name = "layer %d " % k
        last = k == n_layers - 1
        if n_in != prev:
            fail(name + "n_in", "%d does not match the previous output size %d" % (n_in, prev))
        top = 256 if argmax or not last else 16
        if not (2 if argmax and last else 1) <= n_out <= top:
            fail(name + "n_out", "%d is outside %s..%d" % (n_out, "2" if argmax and last else "1", top))
        if last and not argmax and n_out != n_outputs:
            fail(name + "n_out", "%d does not match n_outputs %d" % (n_out, n_outputs))
        if act > 4:
            fail(name + "activation", "unknown code %d (0 identity, 1 relu, 2 tanh, 3 hardtanh, 4 sigmoid)" % act)
        if pshift > 15:
            fail(name + "pshift", "%d exceeds 15" % pshift)
        if not quant and (pshift or lo or hi):
            fail(name + "pshift/lo/hi", "must be 0 in an f32 blob")
        if quant:
            if lo > hi:
                fail(name + "lo/hi", "lo %d > hi %d" % (lo, hi))
            if act == 1 and lo != 0:
                fail(name + "lo", "%d: a relu layer clamps at lo = 0" % lo)
            table = act == 2 or act == 4  # tanh, sigmoid: lo, hi clamp the table's input
            if table and (lo < -_TANH_LIMIT or hi > _TANH_LIMIT):
                fail(name + "lo/hi", "%d, %d: a %s pre-activation must stay within +-%d" % (
                    lo, hi, ACTIVATIONS[act], _TANH_LIMIT))
            if not table and not last and (lo < -32768 or hi > 32767):
                fail(name + "lo/hi", "%d, %d: outside the int16 activation buffers" % (lo, hi))
        layers.append([n_in, n_out, act, pshift, lo, hi])
        prev = n_out
    return layers, prev


def outputs(tabs, base, n_outputs, quant, argmax, n_classes, fail):
    outputs = []
    for j in range(n_outputs):
        name = "output %d " % j
        e = struct.unpack_from("<BB2xffffiiii", tabs, base + _OUT_SIZE * j)
        frac, oshift, scale, off, lo, hi, omult, ooff, qlo, qhi = e
        if not _finite(scale, off, lo, hi):
            fail(name + "scale/offset/lo/hi", "not finite")
        if frac > 24 or oshift > 31:
            fail(name + "frac/oshift", "%d, %d: frac 0..24, oshift 0..31" % (frac, oshift))
        if not lo <= hi:
            fail(name + "lo/hi", "declared range %r > %r" % (lo, hi))
        m = 1 << frac
        if not (-_Q24 < lo * m and hi * m < _Q24):
            fail(name + "lo/hi", "declared range %r..%r: |x| * 2^%d must stay below 2^24" % (lo, hi, frac))
        if qlo > qhi or qlo <= -_Q24 or qhi >= _Q24:
            fail(name + "qlo/qhi", "%d, %d: need qlo <= qhi, |q| < 2^24" % (qlo, qhi))
        if qlo < lo * m or qhi > hi * m:
            fail(name + "qlo/qhi", "%d..%d (Q%d) leaves the declared range %r..%r" % (qlo, qhi, frac, lo, hi))
        if argmax and e != (0, 0, 1.0, 0.0, 0.0, n_classes - 1.0, 1, 0, 0, n_classes - 1):
            fail(name + "table", "an argmax head's entry is frac 0, scale 1, range 0..%d, omult 1" % (n_classes - 1))
        outputs.append(e)
    return outputs


def floats_finite(blob, layers, fail):
    for k in range(len(layers)):
        n_in, n_out, _a, _p, _l, _h, w_off, b_off = layers[k]
        for field, off, n in (("weights", w_off, n_in * n_out), ("bias", b_off, n_out)):
            for i in range(off, off + 4 * n, 4):
                if (blob[i + 3] & 0x7F) == 0x7F and blob[i + 2] & 0x80:  # exponent all ones: inf or nan
                    fail("layer %d %s" % (k, field), "not finite (element %d)" % ((i - off) // 4))


def dense_bounds(blob, layers, outputs, dcode, a16, argmax, fail):
    """The host reader's int32 rule (contract/int32_bound_violations), per layer from the parameters alone:
    |W|max * xmax, the accumulator bound |b| + sum_i ceil(|W_ji| * xmax / 2^p), and |acc| * |mult| + R(shift)
    below 2^31, with xmax = the largest |activation| entering the layer (features: 128 for A8, 32768 for A16 and
    q15; after tanh 127 (A8) / 32767, after sigmoid 256 (A8) / 32767, else max(|lo|, |hi|)); then each shift
    <= 31 and the output stage's max(|lo|, |hi|, xmax_out) * |omult| + R(oshift) + |ooff|."""
    xmax = 32768 if a16 else 128
    wide = dcode == 2
    for k in range(len(layers)):
        n_in, n_out, act, p, lo, hi, w_off, b_off = layers[k]
        name = "layer %d " % k
        s_off = b_off + 8 * n_out
        r = (1 << p) - 1
        i = w_off
        for j in range(n_out):
            s = blob[s_off + j]
            if s > 31:
                fail(name + "shift", "%d exceeds 31 (unit %d)" % (s, j))
            bias, mult = struct.unpack_from("<i", blob, b_off + 4 * j)[0], struct.unpack_from(
                "<i", blob, b_off + 4 * (n_out + j))[0]
            acc = abs(bias)
            for _ in range(n_in):
                if wide:  # int16 little-endian
                    v = blob[i] | blob[i + 1] << 8
                    i += 2
                    v = v if v < 32768 else 65536 - v
                else:
                    v = blob[i]
                    i += 1
                    v = v if v < 128 else 256 - v
                aw = v * xmax
                if aw > _I32:
                    fail(name + "weight", "|W*x| can exceed int32")
                acc += (aw + r) >> p
            if acc > _I32:
                fail(name + "bias/weight", "accumulator bound %d exceeds int32" % acc)
            if acc * abs(mult) + _r(s) > _I32:
                fail(name + "mult", "|acc|*mult + R(shift) exceeds int32 (unit %d)" % j)
        if act == 2:
            xmax = 32767 if a16 else 127
        elif act == 4:
            xmax = 32767 if a16 else 256
        else:
            xmax = max(abs(lo), abs(hi))
    if argmax:
        return
    lo, hi = layers[-1][4], layers[-1][5]
    for j in range(len(outputs)):
        e = outputs[j]
        if max(abs(lo), abs(hi), xmax) * abs(e[6]) + _r(e[1]) + abs(e[7]) > _I32:
            fail("output %d omult" % j, "the output stage can exceed int32")
