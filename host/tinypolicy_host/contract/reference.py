"""Numpy integer reference: the single source of truth for what the device computes (models/README.md).

Integer arithmetic in int64 numpy, vectorised over N rows; every intermediate is checked to fit a signed 32-bit
integer (`Int32Overflow` otherwise), which is what makes 32-bit viper ports (armv6m, xtensawin, rv32imc) and the
64-bit unix port compute identical results. `int32_bound_violations` proves the same statically from the
parameters alone (the blob reader and the device loader reject what it flags).

One row: int32 inputs (input i in Q`frac_i`) → input stage (affine: clamp, offset, requant; angle: reduce to
[−π, π] in Q12, turn units, cos / sin Q14 through SIN_Q14, requant) → features in the first layer's format →
dense layers → output stage (requant + offset + clamp to the declared range, or the argmax index) → int32
outputs (output j in Q`frac_j`).
Schemes: `w8a8` (int8 weights, 8-bit activations in int16 buffers), `w8a16` (int8 weights, 16-bit activations:
the Q15 hand-off rules), `q15` (int16 weights and activations).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .spec import InputSpec

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
PI_Q12 = 12868  # round(π·4096)
TWO_PI_Q12 = 25736
TURN_MULT = 10430  # 65536 / (2π) in Q12: a = (t·10430 + 2048) >> 12
Q14_ONE = 16384
TANH_LIMIT_Q12 = 16384  # tanh pre-activation clamp ±4.0 in Q12 (sigmoid: ±8.0 in Q11, the same integers)
TABLE_ACTIVATIONS = ("tanh", "sigmoid")
SCHEMES = ("w8a8", "w8a16", "q15")
#: Activation (and feature) clamp per scheme.
ACT_RANGE = {"w8a8": (-128, 127), "w8a16": (-32768, 32767), "q15": (-32768, 32767)}
I16_MIN, I16_MAX = -32768, 32767


class Int32Overflow(ArithmeticError):
    """An intermediate of the integer reference left the signed 32-bit range: the device would wrap."""


def round_half_away(x):
    """round() with halves away from zero (the contract's rounding for tables and quantized parameters)."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _table(fn) -> np.ndarray:
    # math.* (CPython libm) per entry, so the tables do not depend on numpy's SIMD paths.
    return np.array([int(round_half_away(16384.0 * fn(k))) for k in range(258)], dtype=np.int64)


#: SIN_Q14[k] = round(16384·sin(k·π/512)), k = 0…257 (the last entry lies past the quarter).
SIN_Q14 = _table(lambda k: math.sin(k * math.pi / 512))
#: TANH_Q14[k] = round(16384·tanh(k/64)), k = 0…257 (|z| ≤ 4 in Q12 steps of 64).
TANH_Q14 = _table(lambda k: math.tanh(k / 64))


def R(s):
    """Rounding term of a right shift by s: (1 << s) >> 1 (0 when s = 0)."""
    return (np.int64(1) << np.asarray(s, np.int64)) >> 1


def check_i32(name: str, *arrays) -> None:
    """Raise Int32Overflow if any value of the arrays is outside the signed 32-bit range."""
    for a in arrays:
        a = np.asarray(a)
        if a.size and (a.max() > I32_MAX or a.min() < I32_MIN):
            bad = a.max() if a.max() > I32_MAX else a.min()
            raise Int32Overflow(f"{name}: {int(bad)} does not fit in int32")


def to_q(x, frac: int) -> np.ndarray:
    """Float → Q`frac`: floor(x·2^frac + 0.5) in double precision, as int64 (must be finite and fit int32)."""
    q = np.floor(np.asarray(x, np.float64) * 2.0**frac + 0.5)
    if not np.all(np.isfinite(q)):
        raise ValueError("to_q: non-finite input")
    check_i32(f"to_q (Q{frac})", q)
    return q.astype(np.int64)


def to_q12(x) -> np.ndarray:
    return to_q(x, 12)


# ---- angle features ----

def reduce_angle_q12(t) -> np.ndarray:
    """Exactly `while t > 12868: t -= 25736` then `while t < -12868: t += 25736` (result in [-12868, 12868])."""
    t = np.asarray(t, np.int64)
    check_i32("angle_q12", t)
    n_hi = -(-(t - PI_Q12) // TWO_PI_Q12)
    n_lo = -(-(-PI_Q12 - t) // TWO_PI_Q12)
    return np.where(t > PI_Q12, t - n_hi * TWO_PI_Q12, np.where(t < -PI_Q12, t + n_lo * TWO_PI_Q12, t))


def turn_units(t_reduced) -> np.ndarray:
    """Reduced angle (Q12 rad) → turn units, 65536 per turn: ((t·10430 + 2048) >> 12) & 0xFFFF."""
    v = np.asarray(t_reduced, np.int64) * TURN_MULT + 2048
    check_i32("turn_units", v)
    return (v >> 12) & 0xFFFF


def _interp(table: np.ndarray, u: np.ndarray) -> np.ndarray:
    """L[i] + (((L[i+1] − L[i])·f + 32) >> 6) with i = u >> 6, f = u & 63, for u in [0, 16384]."""
    i, f = u >> 6, u & 63
    lo = table[i]
    return lo + (((table[i + 1] - lo) * f + 32) >> 6)


def sin_q14(a) -> np.ndarray:
    """sin of an angle in turn units (0…65535), Q14 in [-16384, 16384]."""
    a = np.asarray(a, np.int64)
    q, r = a >> 14, a & 0x3FFF
    sq_r = _interp(SIN_Q14, r)
    sq_m = _interp(SIN_Q14, Q14_ONE - r)
    return np.select([q == 0, q == 1, q == 2], [sq_r, sq_m, -sq_r], -sq_m)


def cos_q14(a) -> np.ndarray:
    """cos(a) = sin((a + 16384) & 0xFFFF), Q14."""
    return sin_q14((np.asarray(a, np.int64) + 16384) & 0xFFFF)


# ---- activations ----

def tanh_q14(z) -> np.ndarray:
    """T(z): tanh of a Q12 pre-activation already clamped to ±16384, as Q14 (sign restored after the table)."""
    z = np.asarray(z, np.int64)
    if z.size and np.abs(z).max() > TANH_LIMIT_Q12:
        raise ValueError("tanh_q14: input outside ±16384 (clamp the pre-activation first)")
    t = _interp(TANH_Q14, np.abs(z))
    return np.where(z < 0, -t, t)


def activation_output(y, activation: str, scheme: str) -> np.ndarray:
    """What a layer hands on from its clamped requantized value y. identity / relu / hardtanh: y itself (the clamp
    is the activation). tanh: T(y), then w8a8 clamp(T >> 7, ±127) (scale 1/128), w8a16 / q15 clamp(T << 1,
    ±32767) (2^−15). sigmoid (y = x/2 in Q12): v = 16384 + T(y) = σ(x) in Q15; w8a8 (v + 64) >> 7 (1/256)."""
    if activation not in TABLE_ACTIVATIONS:
        return np.asarray(y, np.int64)
    t = tanh_q14(y)
    if activation == "tanh":
        return np.clip(t >> 7, -127, 127) if scheme == "w8a8" else np.clip(t << 1, -32767, 32767)
    v = t + Q14_ONE
    return (v + 64) >> 7 if scheme == "w8a8" else v


def activation_absmax(activation: str, scheme: str, lo: int, hi: int) -> int:
    """Largest |value| a layer can hand on (the next layer's input bound)."""
    if activation == "tanh":
        return 127 if scheme == "w8a8" else 32767
    if activation == "sigmoid":
        return 256 if scheme == "w8a8" else 32767
    return max(abs(lo), abs(hi))


def requant(v, mult, shift, lo, hi, name="requant") -> np.ndarray:
    """clamp((v·mult + R(shift)) >> shift, lo, hi), with the 32-bit check of v·mult and v·mult + R(shift)."""
    v = np.asarray(v, np.int64)
    mult, shift = np.asarray(mult, np.int64), np.asarray(shift, np.int64)
    prod = v * mult
    total = prod + R(shift)
    check_i32(name, prod, total)
    return np.clip(total >> shift, lo, hi)


def dense_q(x, weight, bias, mult, shift, pshift, lo, hi, name="dense"):
    """acc_j = b_j + Σ_i ((W[j][i]·x_i) >> p);  y_j = clamp((acc_j·mult_j + R(shift_j)) >> shift_j, lo, hi).

    Checks that each product, and |b_j| + Σ_i |term_i| (which bounds every partial sum in any order), fit int32.
    Returns (acc, y), both (N, n_out) int64.
    """
    x = np.asarray(x, np.int64)
    weight = np.asarray(weight, np.int64)
    bias = np.asarray(bias, np.int64)
    if x.size and weight.size:
        check_i32(f"{name} product", np.array([np.abs(x).max() * np.abs(weight).max()]))
    if int(pshift) == 0:
        # Sums of integer products below 2^53 are exact in float64: use BLAS, then back to int64.
        acc = bias[None, :] + np.rint(x.astype(np.float64) @ weight.T.astype(np.float64)).astype(np.int64)
        bound = np.abs(bias)[None, :] + np.rint(np.abs(x).astype(np.float64)
                                                @ np.abs(weight).T.astype(np.float64)).astype(np.int64)
    else:
        acc = np.empty((x.shape[0], weight.shape[0]), np.int64)
        bound = np.empty_like(acc)
        step = max(1, (1 << 22) // max(1, weight.size))
        for i in range(0, x.shape[0], step):
            terms = (weight[None, :, :] * x[i:i + step, None, :]) >> int(pshift)
            acc[i:i + step] = bias[None, :] + terms.sum(axis=-1)
            bound[i:i + step] = np.abs(bias)[None, :] + np.abs(terms).sum(axis=-1)
    check_i32(f"{name} accumulator bound", bound)
    y = requant(acc, np.asarray(mult)[None, :], np.asarray(shift)[None, :], lo, hi, f"{name} requant")
    return acc, y


# ---- the quantized model: exactly the blob's fields ----

@dataclass
class QFeature:
    """Integer input stage of one feature. affine: x = clamp(((clamp(v, qlo, qhi) − qoff)·fmult + R(fshift))
    >> fshift, amin, amax); angle (cos / sin Q14 as v): the same with qoff = qlo = qhi = 0 and no input clamp."""
    fmult: int
    fshift: int
    qoff: int = 0
    qlo: int = 0
    qhi: int = 0


@dataclass(eq=False)
class QLayer:
    """One quantized dense layer, exactly the blob's fields. `info` holds the real-valued scales it was derived
    from (metadata only: not in the blob, empty after read_blob)."""
    activation: str
    pshift: int  # product shift p
    lo: int  # clamp of y (tanh / sigmoid: of the pre-activation, ±16384)
    hi: int
    weight: np.ndarray  # (n_out, n_in) int64 holding int8 or int16 values
    bias: np.ndarray  # (n_out,) int32 values, accumulator scale
    mult: np.ndarray  # (n_out,) int32 values
    shift: np.ndarray  # (n_out,) 0…31
    info: dict = field(default_factory=dict)

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    def same_as(self, other: QLayer) -> bool:
        return (self.activation == other.activation and self.pshift == other.pshift and self.lo == other.lo
                and self.hi == other.hi and all(np.array_equal(getattr(self, k), getattr(other, k))
                                                for k in ("weight", "bias", "mult", "shift")))


@dataclass
class QOutput:
    """One output. Float stage (declared range [lo, hi], also used by f32 blobs): clip(y·scale + offset, lo, hi).
    Integer stage: out = clamp(((v·omult + R(oshift)) >> oshift) + ooff, qlo, qhi), v = the last layer's output
    as a next layer would see it; result in Q`frac`."""
    frac: int
    scale: float
    offset: float
    lo: float
    hi: float
    omult: int = 1
    oshift: int = 0
    ooff: int = 0
    qlo: int = 0
    qhi: int = 0


@dataclass
class InputTrace:
    clamped: dict  # input index → (N,) affine input after its qlo/qhi clamp
    angle: dict  # input index → (reduced Q12, turn units, cos Q14, sin Q14)
    x: np.ndarray  # (N, n_features) features


@dataclass(eq=False)
class LayerTrace:
    acc: np.ndarray  # (N, n_out) accumulators
    y: np.ndarray  # (N, n_out) after requant + clamp (tanh / sigmoid: the clamped pre-activation)
    out: np.ndarray  # (N, n_out) what the next layer sees (= y unless tanh / sigmoid)


@dataclass(eq=False)
class QuantMLP:
    """An int8 (w8a8 / w8a16) or q15 model: everything the blob holds, and the bit-exact integer forward pass."""
    dtype: str  # "int8" | "q15"
    a16: bool  # int8 weights with 16-bit activations (flag A16); False for q15
    argmax: bool
    inputs: list[InputSpec]  # float stage (f32 fields in the blob; informational for integer dtypes)
    features: list[QFeature]
    layers: list[QLayer]
    outputs: list[QOutput]
    info: dict = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        return "q15" if self.dtype == "q15" else ("w8a16" if self.a16 else "w8a8")

    @property
    def act_range(self) -> tuple[int, int]:
        return ACT_RANGE[self.scheme]

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def dims(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def in_frac(self) -> list[int]:
        return [i.frac for i in self.inputs]

    @property
    def out_frac(self) -> list[int]:
        return [o.frac for o in self.outputs]

    def same_as(self, other: QuantMLP) -> bool:
        """Equality of every field the blob stores."""
        return (self.dtype == other.dtype and self.a16 == other.a16 and self.argmax == other.argmax
                and [_stored(i) for i in self.inputs] == [_stored(i) for i in other.inputs]
                and self.features == other.features
                and self.outputs == other.outputs and len(self.layers) == len(other.layers)
                and all(a.same_as(b) for a, b in zip(self.layers, other.layers, strict=True)))

    def input_stage(self, xq) -> InputTrace:
        xq = np.asarray(xq, np.int64).reshape(-1, self.n_inputs)
        check_i32("input", xq)
        amin, amax = self.act_range
        cols, clamped, angle, f = [], {}, {}, 0
        for i, inp in enumerate(self.inputs):
            if inp.kind == "angle":
                t = reduce_angle_q12(xq[:, i])
                a = turn_units(t)
                c, s = cos_q14(a), sin_q14(a)
                angle[i] = (t, a, c, s)
                for v in (c, s):
                    q = self.features[f]
                    cols.append(requant(v, q.fmult, q.fshift, amin, amax, f"feature {f}"))
                    f += 1
            else:
                q = self.features[f]
                t = np.clip(xq[:, i], q.qlo, q.qhi)
                clamped[i] = t
                d = t - q.qoff
                check_i32(f"feature {f} offset", d)
                cols.append(requant(d, q.fmult, q.fshift, amin, amax, f"feature {f}"))
                f += 1
        return InputTrace(clamped, angle, np.stack(cols, axis=1))

    def trace(self, xq) -> tuple[InputTrace, list[LayerTrace], np.ndarray]:
        """Every intermediate of the integer forward pass: input stage, layers, outputs (N, n_outputs)."""
        it = self.input_stage(xq)
        x, traces = it.x, []
        for k, layer in enumerate(self.layers):
            acc, y = dense_q(x, layer.weight, layer.bias, layer.mult, layer.shift, layer.pshift, layer.lo,
                             layer.hi, name=f"layer {k}")
            x = activation_output(y, layer.activation, self.scheme)
            traces.append(LayerTrace(acc, y, x))
        if self.argmax:
            out = np.argmax(traces[-1].y, axis=1).astype(np.int64)[:, None]  # first maximum
        else:
            cols = []
            for j, o in enumerate(self.outputs):
                v = requant(x[:, j], o.omult, o.oshift, I32_MIN, I32_MAX, f"output {j}") + o.ooff
                check_i32(f"output {j} offset", v)
                cols.append(np.clip(v, o.qlo, o.qhi))
            out = np.stack(cols, axis=1)
        return it, traces, out

    def forward_q(self, xq) -> np.ndarray:
        """Bit-exact reference: (N, n_inputs) int32 inputs (Q`in_frac`) → (N, n_outputs) int64 (Q`out_frac`)."""
        return self.trace(xq)[2]

    def quantize_inputs(self, x) -> np.ndarray:
        x = np.asarray(x, np.float64).reshape(-1, self.n_inputs)
        return np.stack([to_q(x[:, i], inp.frac) for i, inp in enumerate(self.inputs)], axis=1)

    def forward(self, x) -> np.ndarray:
        """Float convenience (the device's `infer`): to_q per input, forward_q, / 2^frac per output (argmax:
        the index)."""
        out = self.forward_q(self.quantize_inputs(x)).astype(np.float64)
        return out / np.array([2.0**f for f in self.out_frac])[None, :]


def _stored(inp: InputSpec) -> tuple:
    """The fields of an input the blob stores (not its name)."""
    return inp.kind, inp.frac, inp.offset, inp.scale, inp.lo, inp.hi


def int32_bound_violations(q: QuantMLP) -> list[str]:
    """Static proof of the 32-bit guarantee: for every possible int32 input, bound each feature product, weight
    product, accumulator (|b| + Σ|term|, which bounds every partial sum) and requant product, and the output
    stage, from the parameters alone. Returns the violated items as 'field: what' strings (empty when safe).
    The blob reader (and the device loader, with the same rule) reject a blob with any."""
    bad = []
    amin, amax = q.act_range
    f = 0
    for inp in q.inputs:
        for _ in range(inp.n_features):
            qf = q.features[f]
            if inp.kind == "angle":
                src = Q14_ONE
            else:
                src = max(abs(qf.qlo - qf.qoff), abs(qf.qhi - qf.qoff))
            if src * abs(qf.fmult) + ((1 << qf.fshift) >> 1) > I32_MAX:
                bad.append(f"feature {f} fmult: |{src}·{qf.fmult}| + R({qf.fshift}) exceeds int32")
            f += 1
    xmax = max(-amin, amax)
    for k, layer in enumerate(q.layers):
        absw = np.abs(layer.weight)
        if absw.size and int(absw.max()) * xmax > I32_MAX:
            bad.append(f"layer {k} weight: |W·x| can exceed int32")
        acc = np.abs(layer.bias) + (-(-(absw * xmax) // (1 << layer.pshift))).sum(axis=1)
        if acc.max() > I32_MAX:
            bad.append(f"layer {k} bias/weight: accumulator bound {int(acc.max())} exceeds int32")
        req = acc * np.abs(layer.mult) + R(layer.shift)
        if req.max() > I32_MAX:
            j = int(req.argmax())
            bad.append(f"layer {k} mult: |acc|·mult + R(shift) can reach {int(req[j])} (unit {j}), exceeds int32")
        xmax = activation_absmax(layer.activation, q.scheme, layer.lo, layer.hi)
    if not q.argmax:
        last = q.layers[-1]
        vmax = max(xmax, abs(last.lo), abs(last.hi))
        for j, o in enumerate(q.outputs):
            if vmax * abs(o.omult) + ((1 << o.oshift) >> 1) + abs(o.ooff) > I32_MAX:
                bad.append(f"output {j} omult: |{vmax}·{o.omult}| + R({o.oshift}) + |{o.ooff}| exceeds int32")
    return bad
