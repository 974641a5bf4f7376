# device: the portable integer forward pass in plain MicroPython (no viper / native emitter needed).
# The same arithmetic as kernels.forward (contract: models/README.md, version 2), for ports without the native
# emitter (the webassembly port, builds with native code disabled) and as a second implementation in tests.
# Bit-identical to the viper kernel and the host integer reference: Python ints are exact and `>>` floors, which is
# the contract's arithmetic shift, and every intermediate fits int32 (loader-checked), so nothing ever wraps.
#
# `PortableNet(model).forward(inp, out, run)`: inp array('i') of n_inputs (Q`frac_i`), out array('i'); run =
# layers to run (n_layers: a whole inference into out; fewer: the activations after `run` layers into out, 0 = the
# input stage). Activations: one list of small ints per layer, of its exact width. Allocation-free where small ints
# hold every intermediate: always on 64-bit ports (62-bit small
# ints); on 32-bit ports (30-bit small ints) as long as values stay below 2^30 (an int32 input near 2^31 or a
# requant product past 2^30 briefly becomes a heap int: exact, but it allocates).
#
# RAM: the weights, bias, mult and shift are copied once from the blob into typed arrays (array('b' | 'h' | 'i'),
# same bytes as the blob, which the Policy then drops).
from array import array

from tinypolicy.tables import SIN_Q14, TANH_Q14

_SIN = array("h", SIN_Q14)
_TANH = array("h", TANH_Q14)


def _i32(blob, off, n):
    return array("i", blob[off:off + 4 * n])


class PortableNet:
    def __init__(self, m):
        blob = m.blob
        fo = m.feat_off
        self.amin, self.amax = (-32768, 32767) if m.a16 else (-128, 127)
        self.a16 = m.a16
        self.argmax = m.argmax
        ins = []
        f = 0
        for t in m.inputs:
            kind = t[0]
            e = [kind]
            for _ in range(1 + kind):  # qoff, qlo, qhi, fmult, fshift of each feature of this input
                e += list(_i32(blob, fo + 20 * f, 4)) + [blob[fo + 20 * f + 16]]
                f += 1
            ins.append(tuple(e))
        self.ins = tuple(ins)
        wt = "bh"[m.dtype == "q15"]
        ws = 1 + (m.dtype == "q15")
        layers = []
        for n_in, n_out, act, p, lo, hi, w_off, b_off in m.layers:
            w = array(wt, blob[w_off:w_off + ws * n_in * n_out])
            bias = _i32(blob, b_off, n_out)
            mult = _i32(blob, b_off + 4 * n_out, n_out)
            shift = bytes(blob[b_off + 8 * n_out:b_off + 9 * n_out])
            layers.append((n_in, n_out, act, p, lo, hi, w, bias, mult, shift))
        self.layers = tuple(layers)
        self.outs = tuple((e[6], e[1], e[7], e[8], e[9]) for e in m.outputs)  # omult, oshift, ooff, qlo, qhi
        self.bufs = tuple([0] * w for w in [m.n_features] + [t[1] for t in m.layers[:-1]])  # exact widths

    def forward(self, inp, out, run):
        amin = self.amin
        amax = self.amax
        x = self.bufs[0]
        f = 0
        i = 0
        for e in self.ins:
            v = inp[i]
            i += 1
            if e[0]:  # angle: reduce to [-pi, pi] in Q12, turn units, cos then sin (Q14), each requantized
                if v > 12868:
                    v -= ((v - 12869) // 25736 + 1) * 25736
                elif v < -12868:
                    v += ((-12869 - v) // 25736 + 1) * 25736
                a = ((v * 10430 + 2048) >> 12) & 0xFFFF
                v = _sin((a + 16384) & 0xFFFF) * e[4]
                s = e[5]
                if s:
                    v = (v + (1 << (s - 1))) >> s
                x[f] = amin if v < amin else (amax if v > amax else v)
                v = _sin(a) * e[9]
                s = e[10]
                f += 1
            else:  # affine: clamp to qlo..qhi, subtract qoff, requantize
                v = e[2] if v < e[2] else (e[3] if v > e[3] else v)
                v = (v - e[1]) * e[4]
                s = e[5]
            if s:
                v = (v + (1 << (s - 1))) >> s
            x[f] = amin if v < amin else (amax if v > amax else v)
            f += 1
        width = f
        k = 0
        last = len(self.layers) - 1
        a16 = self.a16
        y = best = 0
        for n_in, n_out, act, p, lo, hi, w, bias, mult, shift in self.layers:
            if k == run:
                break
            nxt = self.bufs[k + 1] if k < last else x
            q = 0
            for j in range(n_out):
                acc = bias[j]
                if p:
                    for xi in x:  # x holds exactly n_in values; iterating a list allocates nothing
                        acc += (w[q] * xi) >> p
                        q += 1
                else:
                    for xi in x:
                        acc += w[q] * xi
                        q += 1
                y = acc * mult[j]
                s = shift[j]
                if s:
                    y = (y + (1 << (s - 1))) >> s
                y = lo if y < lo else (hi if y > hi else y)
                yp = y  # the argmax head compares the clamped requant values (before tanh / sigmoid)
                if act == 2 or act == 4:  # tanh / sigmoid of the clamped pre-activation through T (Q14)
                    u = -y if y < 0 else y
                    t = _TANH[u >> 6]
                    t += ((_TANH[(u >> 6) + 1] - t) * (u & 63) + 32) >> 6
                    if y < 0:
                        t = -t
                    if act == 4:
                        y = t + 16384 if a16 else (t + 16384 + 64) >> 7
                    elif a16:
                        y = t << 1
                        y = 32767 if y > 32767 else (-32767 if y < -32767 else y)
                    else:
                        y = t >> 7
                        y = 127 if y > 127 else (-127 if y < -127 else y)
                if k < last:
                    nxt[j] = y
                elif self.argmax:
                    if j == 0 or yp > best:
                        best = yp
                        out[0] = j
                else:
                    omult, oshift, ooff, qlo, qhi = self.outs[j]
                    y = y * omult
                    if oshift:
                        y = (y + (1 << (oshift - 1))) >> oshift
                    y += ooff
                    out[j] = qlo if y < qlo else (qhi if y > qhi else y)
            x = nxt
            width = n_out
            k += 1
        if k <= last:
            for j in range(width):
                out[j] = x[j]


def _sin(b):
    """sin of b in turn units (0..65535) as Q14: quarter-wave table, linear interpolation in 1/64 steps."""
    r = b & 0x3FFF
    if b & 0x4000:
        r = 16384 - r
    i = r >> 6
    v = _SIN[i]
    v += ((_SIN[i + 1] - v) * (r & 63) + 32) >> 6
    return -v if b & 0x8000 else v
