"""Numpy integer reference: the single source of truth for what the device computes (models/README.md).

Everything here is integer arithmetic in int64 numpy, vectorised over N states, and every intermediate value is
checked to fit a signed 32-bit integer (`Int32Overflow` otherwise). That bound is what makes the 32-bit viper ports
(armv6m, xtensawin, rv32imc) and the 64-bit unix port (x64) compute identical results, and it is what the device
code relies on.

Pipeline for one state (θ, θ̇ in Q12):
  reduce θ to [-π, π] → turn units (65536 per turn) → cos, sin in Q14 (table + linear interpolation)
  → features [cos, sin, θ̇] requantized to the first layer's input format → dense layers with integer
  requantization → torque in Q12 N·m, clamped to ±round(max_torque·4096).

Quantization schemes (`quantize`):
- int8: int8 weights with **per-output-channel** symmetric scales; activations with **per-channel** scales
  (one per unit, from calibration maxima), int32 bias in the accumulator scale, per-channel integer (mult, shift).
  Per-channel weights, because the rows of a tiny policy's layers differ by an order of magnitude in size (a unit
  driven mostly by θ̇ vs one driven by cos θ): one per-tensor scale would leave the small rows 2-3 effective bits.
  Per-channel activation scales, because hidden units' ranges differ just as much (measured on the provisional
  net: mean torque error 0.080 → 0.052 N·m vs one scale per layer). Both cost nothing on the device: each output
  already has its own (mult, shift), and an input's scale is folded into the next layer's weight column before
  that layer's rows are quantized (exact: a scale multiplies a whole column). The first layer's per-feature
  scales (cos, sin at 1/127, θ̇ over its calibrated range) are folded the same way.
  relu layers clamp to [0, 255] (activations travel in int16 buffers; a relu output is never negative, so this
  is the full 8 bits of magnitude, mean error 0.052 → 0.042 N·m); identity hidden layers to ±127; tanh layers
  hand on clamp(t >> 7, ±127) (scale 1/128) as the contract fixes; hardtanh layers use one fixed output scale
  1/127 with lo, hi = ∓127, so the ordinary requant + clamp *is* clip(x, −1, 1) (no device code of its own);
  sigmoid layers hand on (16384 + T + 64) >> 7 ∈ [0, 256] (scale 1/256; T = the tanh table at half the input).
  Integer biases are then bias-corrected layer by layer on the calibration states (mean float-vs-integer
  pre-activation difference removed).
- Q15: power-of-two formats, one per layer (weights Q`fw`, activations Q`fa`), a product shift `p` per layer,
  mult = 1, shift = fw + fa_in − p − fa_out. All three features enter in Q14. Fixed formats: tanh Q12
  pre-activation → Q15 output; sigmoid Q11 pre-activation (= Q12 of x/2) → Q15; hardtanh Q15 output with
  lo, hi = ∓32767. Per layer (not per channel) because the contract fixes mult = 1 and Q15 is already ~100× more
  precise than int8 here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..contract.spec import FloatPolicySpec, apply_activation

# ---- constants of the contract (models/README.md) ----
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
Q12_ONE = 4096
PI_Q12 = 12868  # round(π·4096)
TWO_PI_Q12 = 25736  # 2·PI_Q12
TURN_MULT = 10430  # 65536 / (2π) in Q12: a = (t·10430 + 2048) >> 12
THETA_DOT_LIMIT_Q12 = 131072  # ±32 rad/s clamp before use
Q14_ONE = 16384
TANH_LIMIT_Q12 = 16384  # tanh pre-activation clamp ±4.0 in Q12 (sigmoid: ±8.0 in Q11, the same integers)
#: Activations whose layer output goes through the tanh table (lo, hi clamp the pre-activation to ±16384).
TABLE_ACTIVATIONS = ("tanh", "sigmoid")
DTYPES = ("f32", "int8", "q15")
ACT_RANGE = {"int8": (-128, 127), "q15": (-32768, 32767)}
#: int8 relu layers clamp to [0, 255]: activations travel in int16 buffers (contract), and a relu output is
#: never negative, so the full 8 bits of magnitude are used (like uint8 activations elsewhere).
RELU_HI_INT8 = 255
# Pendulum-v1 constants used for calibration rollouts (../shared/DESIGN.md).
_G, _M, _L, _MAX_SPEED = 10.0, 1.0, 1.0, 8.0


class Int32Overflow(ArithmeticError):
    """An intermediate of the integer reference left the signed 32-bit range: the device would wrap."""


def _round_half_away(x):
    """round() with halves away from zero (the contract's rounding for tables and quantized parameters)."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _table(fn) -> np.ndarray:
    # math.* (CPython libm) per entry, so the tables do not depend on numpy's SIMD paths.
    return np.array([int(_round_half_away(16384.0 * fn(k))) for k in range(258)], dtype=np.int64)


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


# ---- feature stage ----

def to_q12(x) -> np.ndarray:
    """Float → Q12: floor(x·4096 + 0.5) in double precision, as int64 (must fit int32)."""
    q = np.floor(np.asarray(x, np.float64) * 4096.0 + 0.5)
    if not np.all(np.isfinite(q)):
        raise ValueError("to_q12: non-finite input")
    check_i32("to_q12", q)
    return q.astype(np.int64)


def reduce_angle_q12(t) -> np.ndarray:
    """Exactly `while t > 12868: t -= 25736` then `while t < -12868: t += 25736` (result in [-12868, 12868])."""
    t = np.asarray(t, np.int64)
    check_i32("theta_q12", t)
    n_hi = -(-(t - PI_Q12) // TWO_PI_Q12)  # ceil((t − π)/2π): loop count when t > π
    n_lo = -(-(-PI_Q12 - t) // TWO_PI_Q12)  # ceil((−π − t)/2π): loop count when t < −π
    return np.where(t > PI_Q12, t - n_hi * TWO_PI_Q12, np.where(t < -PI_Q12, t + n_lo * TWO_PI_Q12, t))


def turn_units(t_reduced) -> np.ndarray:
    """Reduced angle (Q12 rad) → turn units, 65536 per turn: ((t·10430 + 2048) >> 12) & 0xFFFF."""
    t = np.asarray(t_reduced, np.int64)
    v = t * TURN_MULT + 2048
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


def tanh_q14(z) -> np.ndarray:
    """T(z): tanh of a Q12 pre-activation already clamped to ±16384, as Q14 (sign restored after the table)."""
    z = np.asarray(z, np.int64)
    if z.size and np.abs(z).max() > TANH_LIMIT_Q12:
        raise ValueError("tanh_q14: input outside ±16384 (clamp the pre-activation first)")
    t = _interp(TANH_Q14, np.abs(z))
    return np.where(z < 0, -t, t)


def tanh_output(t_q14, dtype: str) -> np.ndarray:
    """tanh layer output handed to the next layer: int8 clamp(t >> 7, ±127) (scale 1/128), Q15 clamp(t << 1,
    ±32767) (scale 2^−15)."""
    t = np.asarray(t_q14, np.int64)
    if dtype == "int8":
        return np.clip(t >> 7, -127, 127)
    return np.clip(t << 1, -32767, 32767)


def sigmoid_output(t_q14, dtype: str) -> np.ndarray:
    """sigmoid layer output from T(y) = tanh(x/2) in Q14 (y = the pre-activation x in Q11, i.e. x/2 in Q12):
    sigmoid(x) = (1 + tanh(x/2)) / 2 = (16384 + T) / 32768. Q15: 16384 + T (scale 2^−15); int8: rounded to
    scale 1/256, (16384 + T + 64) >> 7. No clamp: |T| ≤ TANH_Q14[256] = 16373, so the outputs lie in
    [11, 32757] (Q15) and [0, 256] (int8; 256 is 1.0, the int16 buffers hold it)."""
    v = np.asarray(t_q14, np.int64) + Q14_ONE
    return (v + 64) >> 7 if dtype == "int8" else v


def activation_output(y, activation: str, dtype: str) -> np.ndarray:
    """What a layer hands to the next one from its clamped requantized value y: T(y) through the tanh table for
    tanh / sigmoid layers, y itself for identity / relu / hardtanh (whose activation is the clamp)."""
    if activation == "tanh":
        return tanh_output(tanh_q14(y), dtype)
    if activation == "sigmoid":
        return sigmoid_output(tanh_q14(y), dtype)
    return np.asarray(y, np.int64)


def requant(v, mult, shift, lo, hi, name="requant") -> np.ndarray:
    """clamp((v·mult + R(shift)) >> shift, lo, hi), with the 32-bit check of v·mult and v·mult + R(shift)."""
    v = np.asarray(v, np.int64)
    mult, shift = np.asarray(mult, np.int64), np.asarray(shift, np.int64)
    prod = v * mult
    total = prod + R(shift)
    check_i32(name, prod, total)
    return np.clip(total >> shift, lo, hi)


@dataclass
class FeatureTrace:
    t_reduced: np.ndarray
    turn: np.ndarray
    cos_q14: np.ndarray
    sin_q14: np.ndarray
    theta_dot_q12: np.ndarray  # after the ±131072 clamp
    x: np.ndarray  # (N, 3) quantized features


def features_q(theta_q12, theta_dot_q12, fmult, fshift, amin, amax) -> FeatureTrace:
    """Feature stage: x_i = clamp((v_i·fmult_i + R(fshift_i)) >> fshift_i, amin, amax) with v = [cos Q14, sin
    Q14, θ̇ Q12 clamped to ±131072]."""
    theta_q12 = np.asarray(theta_q12, np.int64)
    theta_dot_q12 = np.asarray(theta_dot_q12, np.int64)
    check_i32("theta_dot_q12", theta_dot_q12)
    t = reduce_angle_q12(theta_q12)
    a = turn_units(t)
    c, s = cos_q14(a), sin_q14(a)
    w = np.clip(theta_dot_q12, -THETA_DOT_LIMIT_Q12, THETA_DOT_LIMIT_Q12)
    src = np.stack([c, s, w], axis=-1)
    x = requant(src, np.asarray(fmult, np.int64), np.asarray(fshift, np.int64), amin, amax, "feature")
    return FeatureTrace(t, a, c, s, w, x)


def dense_q(x, weight, bias, mult, shift, pshift, lo, hi, name="dense"):
    """acc_j = b_j + Σ_i ((W[j][i]·x_i) >> p);  y_j = clamp((acc_j·mult_j + R(shift_j)) >> shift_j, lo, hi).

    Checks that each product, and |b_j| + Σ_i |term_i| (which bounds every partial sum in any order), fit int32.
    Returns (acc, y), both (N, n_out) int64.
    """
    x = np.asarray(x, np.int64)
    weight = np.asarray(weight, np.int64)
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
    y = requant(acc, mult[None, :], shift[None, :], lo, hi, f"{name} requant")
    return acc, y


# ---- quantized policy ----

@dataclass(eq=False)
class QLayer:
    """One quantized dense layer, exactly the blob's fields. `info` holds the real-valued scales/formats it was
    derived from (metadata only: not in the blob, empty after read_blob)."""
    activation: str  # identity | relu | tanh | hardtanh | sigmoid
    pshift: int  # product shift p (0 for int8)
    lo: int  # clamp of y (for tanh / sigmoid: of the pre-activation, ±16384)
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


@dataclass(eq=False)
class LayerTrace:
    acc: np.ndarray  # (N, n_out) accumulators
    y: np.ndarray  # (N, n_out) after requant + clamp (tanh / sigmoid: the clamped pre-activation)
    out: np.ndarray  # (N, n_out) what the next layer sees (= y unless tanh / sigmoid)


@dataclass(eq=False)
class QuantPolicy:
    """An int8 or Q15 policy: everything the blob holds, plus the bit-exact integer forward pass."""
    dtype: str  # "int8" | "q15"
    vel_scale: float  # float32-representable (the blob stores f32); informational for integer dtypes
    max_torque: float  # float32-representable
    fmult: np.ndarray  # (3,) feature multipliers
    fshift: np.ndarray  # (3,) feature shifts
    layers: list[QLayer]
    info: dict = field(default_factory=dict)

    @property
    def dims(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def act_range(self) -> tuple[int, int]:
        return ACT_RANGE[self.dtype]

    def same_as(self, other: QuantPolicy) -> bool:
        """Equality of every field the blob stores."""
        return (self.dtype == other.dtype and self.vel_scale == other.vel_scale
                and self.max_torque == other.max_torque and np.array_equal(self.fmult, other.fmult)
                and np.array_equal(self.fshift, other.fshift) and len(self.layers) == len(other.layers)
                and all(a.same_as(b) for a, b in zip(self.layers, other.layers, strict=True)))

    def trace(self, theta_q12, theta_dot_q12) -> tuple[FeatureTrace, list[LayerTrace]]:
        """Every intermediate of the integer forward pass (for golden layer files and debugging)."""
        amin, amax = self.act_range
        ft = features_q(np.ravel(theta_q12), np.ravel(theta_dot_q12), self.fmult, self.fshift, amin, amax)
        x, traces = ft.x, []
        for k, layer in enumerate(self.layers):
            acc, y = dense_q(x, layer.weight, layer.bias, layer.mult, layer.shift, layer.pshift, layer.lo,
                             layer.hi, name=f"layer {k}")
            out = activation_output(y, layer.activation, self.dtype)
            traces.append(LayerTrace(acc, y, out))
            x = out
        return ft, traces

    def forward_q(self, theta_q12, theta_dot_q12) -> np.ndarray:
        """Bit-exact reference: Q12 θ, θ̇ (int arrays, same shape) → torque Q12 N·m (int64, that shape)."""
        shape = np.shape(theta_q12)
        _, traces = self.trace(theta_q12, theta_dot_q12)
        return traces[-1].out[:, 0].reshape(shape)

    def forward(self, theta, theta_dot) -> np.ndarray:
        """Float convenience: to_q12 of the inputs, forward_q, /4096 → torque in N·m."""
        return self.forward_q(to_q12(theta), to_q12(theta_dot)) / 4096.0


def int32_bound_violations(policy: QuantPolicy) -> list[str]:
    """Static proof of the 32-bit guarantee: for every possible input (any int32 θ, θ̇), bound each feature
    product, weight product, accumulator (|b| + Σ|term|, which bounds every partial sum) and requant product
    from the parameters alone. Returns the violated items as 'field: what' strings (empty when safe)."""
    bad = []
    amin, amax = policy.act_range
    for i, (m, s) in enumerate(zip(policy.fmult.tolist(), policy.fshift.tolist(), strict=True)):
        src = THETA_DOT_LIMIT_Q12 if i == 2 else Q14_ONE
        if src * abs(m) + ((1 << s) >> 1) > I32_MAX:
            bad.append(f"feature {i} fmult: |{src}·{m}| + R({s}) exceeds int32")
    xmax = max(-amin, amax)
    for k, layer in enumerate(policy.layers):
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
        if layer.activation == "tanh":
            xmax = 127 if policy.dtype == "int8" else 32767
        elif layer.activation == "sigmoid":
            xmax = 256 if policy.dtype == "int8" else 32767
        else:
            xmax = max(abs(layer.lo), abs(layer.hi))
    return bad


# ---- calibration ----

def calibration_states(spec: FloatPolicySpec, seed: int = 0, n_uniform: int = 4096, n_episodes: int = 48):
    """States the activation ranges are measured on (θ, θ̇ float64 arrays):

    - n_uniform states uniform in the operating box θ ∈ [−π, π], θ̇ ∈ [−8, 8] (Pendulum-v1 clips θ̇ to ±8);
    - closed-loop rollouts of the float policy on the Pendulum-v1 plant (numpy copy of its dynamics) from its reset
      distribution (θ ~ U[−π, π], θ̇ ~ U[−1, 1]), 10 s each, half at the 50 ms and half at the 10 ms period,
      with sensor noise σ = 0.01 on what the policy sees.
    """
    rng = np.random.default_rng(seed)
    thetas = [rng.uniform(-np.pi, np.pi, n_uniform)]
    theta_dots = [rng.uniform(-_MAX_SPEED, _MAX_SPEED, n_uniform)]
    for dt, n in ((0.05, n_episodes - n_episodes // 2), (0.01, n_episodes // 2)):
        th, thd = rng.uniform(-np.pi, np.pi, n), rng.uniform(-1.0, 1.0, n)
        for _ in range(int(round(10.0 / dt))):
            obs_th = th + rng.normal(0.0, 0.01, n)
            obs_thd = thd + rng.normal(0.0, 0.01, n)
            thetas.append(obs_th)
            theta_dots.append(obs_thd)
            u = np.clip(spec.forward(obs_th, obs_thd), -spec.max_torque, spec.max_torque)
            thd = np.clip(thd + (3 * _G / (2 * _L) * np.sin(th) + 3.0 / (_M * _L**2) * u) * dt,
                          -_MAX_SPEED, _MAX_SPEED)
            th = th + thd * dt
    return np.concatenate(thetas), np.concatenate(theta_dots)


def float_activations(spec: FloatPolicySpec, theta, theta_dot) -> list[np.ndarray]:
    """Post-activation outputs of every layer of the float64 spec (the last one before the output clip)."""
    x, outs = spec.features(theta, theta_dot), []
    for layer in spec.layers:
        x = apply_activation(x @ layer.weight.astype(np.float64).T + layer.bias.astype(np.float64),
                             layer.activation)
        outs.append(x)
    return outs


# ---- parameter choice ----

def choose_mult_shift(ratio: float, absmax: int, max_shift: int = 31) -> tuple[int, int]:
    """Integer (mult, shift) with mult/2^shift ≈ ratio > 0 at the largest shift (precision) such that
    absmax·mult + R(shift) < 2^31 and mult fits int32; normalised to the smallest equivalent pair (even mult
    halved with shift − 1 gives identical results). Raises ValueError if even shift 0 overflows."""
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"requantization ratio must be positive and finite, got {ratio}")
    for shift in range(max_shift, -1, -1):
        m = int(_round_half_away(ratio * 2.0**shift))
        if m <= I32_MAX and absmax * m + ((1 << shift) >> 1) <= I32_MAX:
            while m and m % 2 == 0 and shift > 0:
                m, shift = m // 2, shift - 1
            return m, shift
    raise ValueError(f"ratio {ratio} with |acc| up to {absmax} cannot be requantized within int32")


def _pow2_format(absmax: float, limit: int = 32767, cap: int = 15) -> int:
    """Largest n ≤ cap with absmax·2^n ≤ limit (fractional bits of a Qm.n format)."""
    if absmax <= 0:
        return cap
    return min(cap, math.floor(math.log2(limit / absmax)))


def _f32(x: float) -> float:
    return float(np.float32(x))


def quantize(spec: FloatPolicySpec, dtype: str, calib_states=None, act_scales: str = "channel",
             relu_hi: int = RELU_HI_INT8, bias_correction: bool = True) -> QuantPolicy:
    """Quantize the float spec to "int8" or "q15" (see the module docstring for the schemes).

    calib_states: (θ, θ̇) float arrays; default `calibration_states(spec)` (uniform operating box + noisy
    closed-loop rollouts). Activation ranges are the maxima over them (no percentile clipping: the uniform box
    already covers the whole operating range, and clipping a hidden unit saturates the controller).
    int8 features: cos, sin at 1/127; the θ̇ feature at 1/127 too when max |θ̇·vel_scale| over the calibration
    states is ≤ 1.03 (Pendulum-v1 clips θ̇ to ±8 = 1/vel_scale, so it is), else max/127. One scale for all three
    keeps the first layer's weight grid identical to a per-channel weight fake-quant of the float weights (QAT).
    Faster states saturate the θ̇ feature at 128/127 (the float policy is never trained there).
    act_scales (int8): "channel" (default, one scale per hidden unit) or "layer" (one per layer; then every
    layer's weight grid is exactly a per-channel fake-quant grid of the float weights).
    relu_hi (int8): clamp of relu layers, 255 (default) or 127.
    bias_correction (int8, default on): sequential bias correction on the calibration states (see
    `_correct_biases`); on the provisional policy it cut the mean torque error along closed-loop trajectories from
    0.065 to 0.028 N·m and the return loss from 1.1-1.4 % to 0.2-0.9 %.
    The last layer must be identity: it writes torque in Q12 N·m clamped to ±round(max_torque·4096).
    Deterministic: same spec and states → same parameters.
    """
    if dtype not in ("int8", "q15"):
        raise ValueError(f"dtype must be 'int8' or 'q15', got {dtype!r}")
    if not spec.layers or spec.layers[-1].activation != "identity":
        raise ValueError("the last layer must have activation 'identity' (it produces the torque)")
    if spec.dims[0] != 3 or spec.dims[-1] != 1:
        raise ValueError(f"policy dims must start with 3 features and end with 1 output, got {spec.dims}")
    theta, theta_dot = calib_states if calib_states is not None else calibration_states(spec)
    theta, theta_dot = np.asarray(theta, np.float64), np.asarray(theta_dot, np.float64)
    acts = float_activations(spec, theta, theta_dot)
    vel_scale, max_torque = _f32(spec.vel_scale), _f32(spec.max_torque)
    torque_lim = int(_round_half_away(max_torque * 4096))
    amin, amax = ACT_RANGE[dtype]
    info: dict = {"calibration": {"n_states": int(theta.size),
                                  "theta_dot_absmax": float(np.abs(theta_dot).max())}}
    # Feature stage: source LSBs are 2^-14 (cos, sin Q14) and vel_scale·2^-12 (θ̇ Q12 → feature units).
    src_lsb = np.array([2.0**-14, 2.0**-14, vel_scale * 2.0**-12])
    src_absmax = [Q14_ONE, Q14_ONE, THETA_DOT_LIMIT_Q12]
    if dtype == "int8":
        top = float(np.abs(theta_dot).max()) * vel_scale
        full = 1.0 if top <= 1.03 else top
        want = np.array([1 / 127, 1 / 127, full / 127])  # feature value per int8 step
        info["theta_dot_range"] = full / vel_scale * 128 / 127  # where the θ̇ feature saturates (rad/s)
    else:
        want = np.full(3, 2.0**-14)  # Q14 for all three features
        info["theta_dot_range"] = (amax / 2**14) / vel_scale
    fm, fs = zip(*(choose_mult_shift(src_lsb[i] / want[i], src_absmax[i]) for i in range(3)), strict=True)
    fmult, fshift = np.array(fm, np.int64), np.array(fs, np.int64)
    s_in = src_lsb * (2.0 ** fshift) / fmult  # effective feature scales (value per integer step)
    in_absmax = max(-amin, amax)  # features clamp to [amin, amax]
    info["feature_scales"] = s_in.tolist()
    fa_in = 14  # q15: features enter in Q14
    layers = []
    for k, (layer, act) in enumerate(zip(spec.layers, acts, strict=True)):
        last = k == len(spec.layers) - 1
        W, b = layer.weight.astype(np.float64), layer.bias.astype(np.float64)
        if dtype == "int8":
            q = _quantize_int8_layer(W, b, layer.activation, s_in, in_absmax, act, last, torque_lim, act_scales,
                                     relu_hi)
            s_in = np.asarray(q.info.pop("out_scale_next"), np.float64)
        else:
            q = _quantize_q15_layer(W, b, layer.activation, fa_in, in_absmax, act, last, torque_lim, k)
            fa_in = q.info.pop("fa_next")
        layers.append(q)
        in_absmax = q.info.pop("out_absmax_next")
    policy = QuantPolicy(dtype, vel_scale, max_torque, fmult, fshift, layers, info)
    if bias_correction and dtype == "int8":
        _correct_biases(policy, spec, theta, theta_dot)
    return policy


def _correct_biases(policy: QuantPolicy, spec: FloatPolicySpec, theta, theta_dot) -> None:
    """Sequential bias correction (int8): for each layer in turn, the mean difference between the dequantized
    accumulator (with the *quantized* inputs of the calibration states) and the float pre-activation is removed
    from the integer bias (for relu layers averaged where the float unit is active, for hardtanh layers where it
    is not clipped). The accumulator bound and (mult, shift) are re-chosen for the new bias."""
    tq, tdq = to_q12(theta), to_q12(theta_dot)
    x = spec.features(theta, theta_dot)
    for k, (layer, fl) in enumerate(zip(policy.layers, spec.layers, strict=True)):
        z = x @ fl.weight.astype(np.float64).T + fl.bias.astype(np.float64)
        _, traces = policy.trace(tq, tdq)
        sw = np.asarray(layer.info["weight_scale"])
        diff = traces[k].acc * sw[None, :] - z
        if layer.activation in ("relu", "hardtanh"):  # averaged where the float unit is not clipped
            w = ((z > 0) if layer.activation == "relu" else (np.abs(z) < 1)).astype(np.float64)
            mean = (diff * w).sum(0) / np.maximum(w.sum(0), 1)
        else:
            mean = diff.mean(0)
        layer.bias = layer.bias - _round_half_away(mean / sw).astype(np.int64)
        x = apply_activation(z, fl.activation)
        acc_absmax = np.abs(layer.weight).sum(axis=1) * layer.info["in_absmax"] + np.abs(layer.bias)
        check_i32("int8 accumulator bound", acc_absmax)
        s_out = np.asarray(layer.info["out_scale"])
        ms = [choose_mult_shift(sw[j] / s_out[j], int(acc_absmax[j])) for j in range(layer.n_out)]
        layer.mult = np.array([m for m, _ in ms], np.int64)
        layer.shift = np.array([s for _, s in ms], np.int64)
        layer.info["acc_absmax"] = acc_absmax.tolist()
        layer.info["bias_correction"] = (mean / sw).tolist()


def _quantize_int8_layer(W, b, activation, s_in, in_absmax, act, last, torque_lim, act_scales="channel",
                         relu_hi=RELU_HI_INT8) -> QLayer:
    """s_in: (n_in,) real value of one integer step of each input (folded into the weight columns)."""
    w_eff = W * s_in[None, :]  # weights acting on the integer inputs
    sw = np.abs(w_eff).max(axis=1) / 127.0
    sw = np.where(sw > 0, sw, 1.0)
    wq = np.clip(_round_half_away(w_eff / sw[:, None]), -127, 127).astype(np.int64)
    bq = _round_half_away(b / sw)
    check_i32("int8 bias", bq)
    bq = bq.astype(np.int64)
    n_out = W.shape[0]
    calib = np.abs(act).max(axis=0)
    if last:
        s_out, lo, hi = np.full(n_out, 1 / 4096), -torque_lim, torque_lim
        nxt, nxt_abs = s_out, torque_lim
    elif activation == "tanh":
        s_out, lo, hi = np.full(n_out, 1 / 4096), -TANH_LIMIT_Q12, TANH_LIMIT_Q12
        nxt, nxt_abs = np.full(n_out, 1 / 128), 127
    elif activation == "sigmoid":  # pre-activation x in Q11 (x/2 in Q12 for the tanh table), output 1/256
        s_out, lo, hi = np.full(n_out, 1 / 2048), -TANH_LIMIT_Q12, TANH_LIMIT_Q12
        nxt, nxt_abs = np.full(n_out, 1 / 256), 256
    elif activation == "hardtanh":  # ±1.0 is ±127: the clamp to lo, hi is the activation
        s_out, lo, hi = np.full(n_out, 1 / 127), -127, 127
        nxt, nxt_abs = s_out, 127
    else:
        # Per-channel output scales (a dead unit gets 1% of the layer's range so it still has a scale).
        lo, hi = (0, relu_hi) if activation == "relu" else (-127, 127)
        top = float(calib.max()) if calib.size and calib.max() > 0 else 1.0
        s_out = (np.maximum(calib, 0.01 * top) if act_scales == "channel" else np.full(n_out, top)) / hi
        nxt, nxt_abs = s_out, hi
    acc_absmax = np.abs(wq).sum(axis=1) * in_absmax + np.abs(bq)
    check_i32("int8 accumulator bound", acc_absmax)
    ms = [choose_mult_shift(sw[j] / s_out[j], int(acc_absmax[j])) for j in range(n_out)]
    mult = np.array([m for m, _ in ms], np.int64)
    shift = np.array([s for _, s in ms], np.int64)
    info = {"weight_scale": sw.tolist(), "in_scale": np.asarray(s_in).tolist(), "out_scale": s_out.tolist(),
            "in_absmax": in_absmax,
            "out_scale_next": nxt, "out_absmax_next": nxt_abs, "acc_absmax": acc_absmax.tolist(),
            "calib_absmax": calib.tolist()}
    return QLayer(activation, 0, lo, hi, wq, bq, mult, shift, info)


def _quantize_q15_layer(W, b, activation, fa_in, in_absmax, act, last, torque_lim, k) -> QLayer:
    wmax = float(np.abs(W).max())
    fw = _pow2_format(wmax)
    wq = np.clip(_round_half_away(W * 2.0**fw), -32767, 32767).astype(np.int64)
    if last:
        fa_out, lo, hi, nxt, nxt_abs = 12, -torque_lim, torque_lim, 12, torque_lim
    elif activation == "tanh":
        fa_out, lo, hi, nxt, nxt_abs = 12, -TANH_LIMIT_Q12, TANH_LIMIT_Q12, 15, 32767
    elif activation == "sigmoid":  # Q11 pre-activation = Q12 of x/2; output Q15
        fa_out, lo, hi, nxt, nxt_abs = 11, -TANH_LIMIT_Q12, TANH_LIMIT_Q12, 15, 32767
    elif activation == "hardtanh":  # Q15, ±1.0 → ±32767 (1 LSB short of 1.0): the clamp is the activation
        fa_out, lo, hi, nxt, nxt_abs = 15, -32767, 32767, 15, 32767
    else:
        fa_out = _pow2_format(float(np.abs(act).max()))
        lo, hi = (0, 32767) if activation == "relu" else (-32767, 32767)
        nxt, nxt_abs = None, 32767
    for p in range(16):
        shift = fw + fa_in - p - fa_out
        if shift < 0:
            if last or activation in ("tanh", "sigmoid", "hardtanh"):  # fixed output formats
                raise ValueError(f"layer {k}: Q15 formats give a negative shift ({fw}+{fa_in}-{p}-{fa_out})")
            fa_out += shift  # fewer output fraction bits rather than a left shift
            shift = 0
        bq = _round_half_away(b * 2.0 ** (fw + fa_in - p))
        bound = np.abs(bq) + (-(-(np.abs(wq) * in_absmax) // (1 << p))).sum(axis=1)
        if bound.max() + ((1 << shift) >> 1) <= I32_MAX:
            break
    else:
        raise ValueError(f"layer {k}: no product shift p ≤ 15 keeps the Q15 accumulator within int32")
    if nxt is None:
        nxt = fa_out
    info = {"fw": fw, "fa_in": fa_in, "fa_out": fa_out, "acc_absmax": bound.tolist(),
            "calib_absmax": float(np.abs(act).max()), "fa_next": nxt, "out_absmax_next": nxt_abs}
    return QLayer(activation, p, lo, hi, wq, bq.astype(np.int64), np.ones(W.shape[0], np.int64),
                  np.full(W.shape[0], shift, np.int64), info)


# ---- device tables ----

def device_tables_source(as_bytes: bool = False) -> str:
    """MicroPython source of the lookup tables for device/tinypolicy/tables.py.

    Default: `array("h", (...))` objects (values 0…16384, so viper's unsigned ptr16 loads need no sign fix).
    as_bytes=True: little-endian `bytes` literals instead (kept in flash when frozen; read with ptr16 too).
    """
    def render(name, table, doc):
        lines = [f"# {doc}"]
        if as_bytes:
            raw = np.asarray(table, "<u2").tobytes()
            lines.append(f"{name} = (")
            for i in range(0, len(raw), 32):
                lines.append(f"    {raw[i:i + 32]!r}")
            lines.append(")")
        else:
            lines.append(f'{name} = array("h", (')
            vals = [str(int(v)) for v in table]
            for i in range(0, len(vals), 12):
                lines.append("    " + ", ".join(vals[i:i + 12]) + ",")
            lines.append("))")
        return "\n".join(lines)

    head = ["# device: fixed-point lookup tables of the feature stage and tanh / sigmoid (258 entries each).",
            "# Generated by tinypolicy_host.quant.device_tables_source() from the host integer reference;",
            "# do not edit by hand. Contract: models/README.md.",
            ""]
    if not as_bytes:
        head += ["from array import array", ""]
    body = [render("SIN_Q14", SIN_Q14, "SIN_Q14[k] = round(16384*sin(k*pi/512)), k = 0..257, halves away from 0"),
            "",
            render("TANH_Q14", TANH_Q14, "TANH_Q14[k] = round(16384*tanh(k/64)), k = 0..257, halves away from 0"),
            ""]
    return "\n".join(head + body)
