# device: float reference path: runs an f32 blob in plain MicroPython floats (any port, no viper needed).
# Weights are copied from the blob into array('f') per layer (raw float32, no per-value float objects); the blob
# itself is not kept. Input stage per input: affine `(clip(x, lo, hi) - offset) * scale` or angle `cos x, sin x`;
# dense layers (activations identity, relu, tanh, hardtanh = clip to [-1, 1], sigmoid, clip to the layer's float32
# lo, hi); output stage per output `clip(y * scale + offset, lo, hi)` (a NaN y gives clip(0, lo, hi)) or the argmax
# head (index of the first maximum). Arithmetic is the port's float (double on unix, single on RP2040 / ESP32).
# Every call allocates (floats are heap objects): not for a hard IRQ or heap lock.
import math
from array import array


class FloatNet:
    def __init__(self, m):
        blob = m.blob
        self.ins = m.inputs  # (kind, frac, offset, scale, lo, hi)
        self.outs = m.outputs  # (frac, oshift, scale, offset, lo, hi, ...)
        self.argmax = m.argmax
        self.layers = []
        for n_in, n_out, act, _p, lo, hi, w_off, b_off in m.layers:
            w = array("f", blob[w_off:w_off + 4 * n_in * n_out])
            b = array("f", blob[b_off:b_off + 4 * n_out])
            if act == 3:  # hardtanh: clip(x, -1, 1)
                lo, hi = -1.0, 1.0
            self.layers.append((n_in, n_out, act, w, b, lo, hi))

    def forward(self, xs, run=-1):
        """xs: n_inputs floats -> n_outputs floats (argmax: [index]); run = k >= 0 stops after k layers and
        returns those activations (0: the features)."""
        x = []
        for i in range(len(self.ins)):
            kind, _f, off, scale, lo, hi = self.ins[i]
            v = xs[i]
            if kind:
                x.append(math.cos(v))
                x.append(math.sin(v))
            else:
                x.append(((lo if v < lo else (hi if v > hi else v)) - off) * scale)
        k = 0
        for n_in, n_out, act, w, b, lo, hi in self.layers:
            if k == run:
                return x
            y = []
            q = 0
            for j in range(n_out):
                s = b[j]
                for i in range(n_in):
                    s += w[q] * x[i]
                    q += 1
                if act == 1:
                    if s < 0.0:
                        s = 0.0
                elif act == 2:
                    s = math.tanh(s)
                elif act == 3 or act == 5:  # hardtanh, clip: to lo, hi
                    s = lo if s < lo else (hi if s > hi else s)
                elif act == 4:  # sigmoid; via tanh: exp(-s) would overflow (ValueError) for s < -709
                    s = 0.5 + 0.5 * math.tanh(0.5 * s)
                y.append(s)
            x = y
            k += 1
        if self.argmax:
            best = 0
            for j in range(len(x)):
                if x[j] > x[best]:
                    best = j
            return [best]
        res = []
        for j in range(len(x)):
            e = self.outs[j]
            lo, hi = e[4], e[5]
            v = x[j] * e[2] + e[3]
            if v != v:  # nan
                v = 0.0
            res.append(lo if v < lo else (hi if v > hi else v))
        return res
