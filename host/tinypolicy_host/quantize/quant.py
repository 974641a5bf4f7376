"""Quantization of an MLPSpec to the integer schemes of blob version 2 (arithmetic: contract/reference.py).

`quantize(spec, scheme, calib)`: scheme "w8a8" | "w8a16" | "q15"; calib = (N, n_inputs) float calibration inputs.
Activation ranges are the maxima over the calibration rows (no percentile clipping: calibration data should cover
the operating range, and clipping a hidden unit saturates a controller).

- Input stage: angle inputs give cos, sin with absmax 1.0; an affine feature's absmax is its calibrated maximum,
  taken as exactly 1.0 when it lies in [0.9, 1.03] (normalised inputs such as θ̇/max_speed keep the grid
  ±1 ↔ ±amax; a few % beyond saturate). Feature step: absmax/127 (w8a8), absmax/32767 (w8a16), one power-of-two
  Q format for all features (q15, Q14 for features within ±2). The feature's (fmult, fshift) is chosen for that
  step and its *exact* effective step is folded into the first layer's weight columns.
- int8 weights (w8a8, w8a16): symmetric per-output-channel scales; per-channel activation scales (one per hidden
  unit, from calibration maxima), folded into the next layer's weight columns (exact: a scale multiplies a whole
  column). Per-channel weights because the rows of a small policy differ by an order of magnitude; per-channel
  activation scales because the units' ranges do too (provisional pendulum net: mean torque error 0.080 → 0.052
  N·m against one scale per layer). Clamps, w8a8: relu [0, 255], identity ±127, hardtanh ±127 (= ±1.0);
  w8a16: relu [0, 32767], identity / hardtanh ±32767. tanh / sigmoid layers clamp their pre-activation (Q12 / Q11)
  to ±16384. The requant (mult, shift) of each channel is chosen first (largest shift keeping |acc|·mult < 2^31,
  mult rounded **up**), then the channel's weight scale is set to exactly mult/2^shift times its output scale:
  no gain error however few bits mult has (w8a16 accumulators are 256× larger than w8a8 ones, so mult has ~8 bits
  fewer), at the cost of a weight grid at most 1/mult coarser. Integer biases are then bias-corrected layer by
  layer on the calibration rows (mean float-vs-integer pre-activation difference removed; for relu layers where
  the float unit is active, hardtanh where it is not clipped).
- q15: power-of-two formats, one per layer (weights Q`fw`, activations Q`fa`), product shift p per layer,
  mult = 1, shift = fw + fa_in − p − fa_out. Fixed formats: tanh Q12 pre-activation → Q15, sigmoid Q11 → Q15,
  hardtanh Q15 with ∓32767.
- Output stage: an identity or relu last layer gets |scale_j| folded into its row and writes Q`frac_j` directly
  (omult = ±1, oshift = 0); tanh / sigmoid / hardtanh last layers hand on their fixed-format output and the
  output stage rescales it (omult, oshift). ooff = to_q(offset, frac); the last layer's clamp and qlo, qhi keep
  the output in its declared range. argmax: the last layer writes every logit at one common scale (so they
  compare), clamped to ±2^20.
Deterministic: same spec and calibration rows → same parameters.
"""
from __future__ import annotations

import math

import numpy as np

from ..contract.blob import output_qrange
from ..contract.reference import (
    ACT_RANGE,
    I32_MAX,
    Q14_ONE,
    TANH_LIMIT_Q12,
    QFeature,
    QLayer,
    QOutput,
    QuantMLP,
    activation_absmax,
    check_i32,
    int32_bound_violations,
    round_half_away,
    to_q,
)
from ..contract.spec import InputSpec, MLPSpec, apply_activation

SCHEMES = ("w8a8", "w8a16", "q15")
#: The default int8 scheme (models/policy_int8.bin): w8a16 removes most of w8a8's error (models/README.md).
DEFAULT_INT8 = "w8a16"
#: int8 (w8a8) relu layers clamp to [0, 255]: activations travel in int16 buffers and a relu output is never
#: negative, so the full 8 bits of magnitude are used (measured: mean error 0.052 → 0.042 N·m vs 127).
RELU_HI_A8 = 255
LOGIT_LIMIT = 1 << 20  # argmax heads: the logits' common integer range
SNAP = (0.9, 1.03)  # an affine feature whose calibrated absmax lies here uses exactly 1.0


def choose_mult_shift(ratio: float, absmax: int, max_shift: int = 31, up: bool = False) -> tuple[int, int]:
    """Integer (mult, shift) with mult/2^shift ≈ ratio > 0 (rounded half away, or up: mult/2^shift ≥ ratio) at
    the largest shift such that absmax·mult + R(shift) < 2^31 and mult fits int32; normalised to the smallest
    equivalent pair. Raises ValueError if even shift 0 overflows."""
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"requantization ratio must be positive and finite, got {ratio}")
    for shift in range(max_shift, -1, -1):
        m = math.ceil(ratio * 2.0**shift) if up else int(round_half_away(ratio * 2.0**shift))
        if m <= I32_MAX and absmax * m + ((1 << shift) >> 1) <= I32_MAX:
            while m and m % 2 == 0 and shift > 0:
                m, shift = m // 2, shift - 1
            return m, shift
    raise ValueError(f"ratio {ratio} with |acc| up to {absmax} cannot be requantized within int32")


def pow2_format(absmax: float, limit: int = 32767, cap: int = 15) -> int:
    """Largest n ≤ cap with absmax·2^n ≤ limit (fractional bits of a Qm.n format)."""
    if absmax <= 0:
        return cap
    return min(cap, math.floor(math.log2(limit / absmax)))


def _f32(x: float) -> float:
    return float(np.float32(x))


def _signed_mult_shift(ratio: float, absmax: int) -> tuple[int, int]:
    m, s = choose_mult_shift(abs(ratio), absmax)
    return (m if ratio > 0 else -m), s


# ---- input stage ----

def _input_stage(spec: MLPSpec, scheme: str, feats: np.ndarray):
    """(float inputs as stored, QFeatures, effective feature steps (n_features,), feature absmax in integers)."""
    amin, amax = ACT_RANGE[scheme]
    absmax = np.abs(feats).max(axis=0) if feats.size else np.ones(spec.n_features)
    want, f = [], 0
    for inp in spec.inputs:
        for _ in range(inp.n_features):
            m = 1.0 if inp.kind == "angle" else float(absmax[f])
            if m == 0 or SNAP[0] <= m <= SNAP[1]:
                m = 1.0
            want.append(m)
            f += 1
    want = np.array(want)
    if scheme == "q15":
        step = np.full(len(want), 2.0 ** -pow2_format(float(want.max())))
    else:
        step = want / amax
    inputs, qf, eff, f = [], [], [], 0
    for inp in spec.inputs:
        if inp.kind == "angle":
            inputs.append(InputSpec("angle", 12, 0.0, 0.0, 0.0, 0.0, inp.name))
            for _ in range(2):
                m, s = choose_mult_shift(2.0**-14 / step[f], Q14_ONE)
                qf.append(QFeature(m, s))
                eff.append(2.0**-14 * 2.0**s / m)
                f += 1
            continue
        stored = InputSpec("affine", inp.frac, _f32(inp.offset), _f32(inp.scale), _f32(inp.lo), _f32(inp.hi),
                           inp.name)
        inputs.append(stored)
        qlo, qhi = (int(v) for v in to_q([stored.lo, stored.hi], inp.frac))
        qoff = int(to_q(stored.offset, inp.frac))
        src = max(abs(qlo - qoff), abs(qhi - qoff), 1)
        lsb = stored.scale * 2.0**-inp.frac  # feature value per input step
        if lsb == 0:
            m, s, e = 0, 0, step[f]
        else:
            m, s = _signed_mult_shift(lsb / step[f], src)
            e = lsb * 2.0**s / m  # signed effective step: the integer feature times e is the feature
        qf.append(QFeature(m, s, qoff, qlo, qhi))
        eff.append(e)
        f += 1
    return inputs, qf, np.array(eff, np.float64), max(-amin, amax)


# ---- output plan ----

def _output_plan(spec: MLPSpec) -> list[tuple]:
    """Per output j of a non-argmax spec: (row fold factor, y step or None (fixed-format last layer), lo, hi of
    the last layer's y, QOutput; a fixed format's omult / oshift are set after the layers)."""
    last_act = spec.layers[-1].activation
    plan = []
    for o in spec.outputs:
        o = type(o)(o.frac, _f32(o.scale), _f32(o.offset), _f32(o.lo), _f32(o.hi), o.name)
        qlo, qhi = output_qrange(o)
        ooff = int(to_q(o.offset, o.frac))
        if last_act in ("identity", "relu"):
            # y in Q`frac` of y·|scale|: out = clamp(sign·y + ooff, qlo, qhi)
            sign = int(np.sign(o.scale))
            lo, hi = (ooff - qhi, ooff - qlo) if sign < 0 else (qlo - ooff, qhi - ooff)
            if last_act == "relu":
                lo, hi = 0, max(0, hi)
            qo = QOutput(o.frac, o.scale, o.offset, o.lo, o.hi, sign, 0, ooff, qlo, qhi)
            plan.append((abs(o.scale) or 1.0, 2.0**-o.frac, lo, hi, qo))
        else:
            plan.append((1.0, None, None, None, QOutput(o.frac, o.scale, o.offset, o.lo, o.hi, 0, 0, ooff, qlo, qhi)))
    return plan


def _handoff_step(act: str, scheme: str) -> float:
    """Real value of one step of what a fixed-format (tanh / sigmoid / hardtanh) layer hands on."""
    if act == "tanh":
        return 1 / 128 if scheme == "w8a8" else 2.0**-15
    if act == "sigmoid":
        return 1 / 256 if scheme == "w8a8" else 2.0**-15
    return {"w8a8": 1 / 127, "w8a16": 1 / 32767, "q15": 2.0**-15}[scheme]  # hardtanh: ±1.0 is the clamp


# ---- quantize ----

def quantize(spec: MLPSpec, scheme: str, calib, bias_correction: bool = True) -> QuantMLP:
    """Quantize the float spec to scheme "w8a8", "w8a16" or "q15" on calibration inputs (N, n_inputs)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    spec.validate()
    calib = np.asarray(calib, np.float64).reshape(-1, spec.n_inputs)
    if not len(calib) or not np.all(np.isfinite(calib)):
        raise ValueError("calibration data must be non-empty and finite")
    feats = spec.features(calib)
    acts = spec.activations(calib)
    inputs, qfeat, s_in, in_absmax = _input_stage(spec, scheme, feats)
    info = {"calibration": {"n_rows": int(len(calib)),
                            "input_absmax": np.abs(calib).max(axis=0).tolist(),
                            "feature_absmax": np.abs(feats).max(axis=0).tolist()},
            "feature_scales": s_in.tolist()}
    last_act = spec.layers[-1].activation
    plan = None if spec.argmax else _output_plan(spec)
    layers, fa_in = [], 0
    for k, (layer, act) in enumerate(zip(spec.layers, acts, strict=True)):
        last = k == len(spec.layers) - 1
        W = np.asarray(layer.weight, np.float64)
        b = np.asarray(layer.bias, np.float64)
        fold = np.ones(W.shape[0])
        if last and plan is not None:
            fold = np.array([p[0] for p in plan])
        W, b = W * fold[:, None], b * fold
        if scheme == "q15":
            if k == 0:  # features enter in one Q format; an affine feature's exact step is folded in
                fa_in = _q15_fa0(s_in)
                W = W * (s_in * 2.0**fa_in)[None, :]
            q = _q15_layer(W, b, layer, fa_in, in_absmax, act * fold[None, :], last, plan, k)
            fa_in = q.info.pop("fa_next")
        else:
            q = _int8_layer(W, b, layer, s_in, in_absmax, act * fold[None, :], last, plan, spec.argmax, scheme)
            s_in = np.asarray(q.info.pop("out_scale_next"), np.float64)
        q.info["fold"] = fold.tolist()
        in_absmax = activation_absmax(q.activation, scheme, q.lo, q.hi)
        layers.append(q)
    if spec.argmax:
        n = spec.dims[-1]
        outputs = [QOutput(0, 1.0, 0.0, 0.0, float(n - 1), 1, 0, 0, 0, n - 1)]
    else:
        outputs = [p[4] for p in plan]
        if plan[0][1] is None:  # fixed-format last layer: the output stage rescales
            step = layers[-1].info["step"] if last_act == "clip" else _handoff_step(last_act, scheme)
            vmax = activation_absmax(last_act, scheme, layers[-1].lo, layers[-1].hi)
            for o in outputs:
                o.omult, o.oshift = (_signed_mult_shift(o.scale * step * 2.0**o.frac, vmax)
                                     if o.scale else (0, 0))
    model = QuantMLP("q15" if scheme == "q15" else "int8", scheme == "w8a16", spec.argmax, inputs, qfeat, layers,
                     outputs, info)
    if bias_correction and scheme != "q15":
        _correct_biases(model, spec, calib)
    return model


def _q15_fa0(s_in: np.ndarray) -> int:
    """Q format the q15 features enter in (all features share one power-of-two step)."""
    return int(round(-math.log2(float(np.max(np.abs(s_in))))))


def _int8_targets(activation, calib_absmax, last, plan, argmax, scheme, bounds=(0.0, 0.0)):
    """(per-channel output step s_out, lo, hi, step handed on (n_out,), hand-on bound) for an int8 layer."""
    n_out = len(calib_absmax)
    a16 = scheme == "w8a16"
    if last and argmax:
        top = float(calib_absmax.max()) if calib_absmax.max() > 0 else 1.0
        s = np.full(n_out, top / (LOGIT_LIMIT >> 1))
        return s, -LOGIT_LIMIT, LOGIT_LIMIT, s
    if last and plan[0][1] is not None:
        s = np.array([p[1] for p in plan])
        return s, min(p[2] for p in plan), max(p[3] for p in plan), s
    if activation == "tanh":
        return np.full(n_out, 2.0**-12), -TANH_LIMIT_Q12, TANH_LIMIT_Q12, np.full(
            n_out, 2.0**-15 if a16 else 1 / 128)
    if activation == "sigmoid":
        return np.full(n_out, 2.0**-11), -TANH_LIMIT_Q12, TANH_LIMIT_Q12, np.full(
            n_out, 2.0**-15 if a16 else 1 / 256)
    if activation == "hardtanh":
        amax = 32767 if a16 else 127
        return np.full(n_out, 1 / amax), -amax, amax, np.full(n_out, 1 / amax)
    hi = (32767 if a16 else RELU_HI_A8) if activation == "relu" else (32767 if a16 else 127)
    lo = 0 if activation == "relu" else -hi
    top = float(calib_absmax.max()) if calib_absmax.size and calib_absmax.max() > 0 else 1.0
    if activation == "clip":  # one step for the layer: the clamp q(a), q(b) is then the same for every unit
        return _clip_targets(n_out, top, bounds, 32767 if a16 else 127)
    s = np.maximum(calib_absmax, 0.01 * top) / hi  # a dead unit gets 1 % of the layer's range
    return s, lo, hi, s


def _clip_targets(n_out, top, bounds, amax):
    """A hidden or fixed-format last clip(a, b) layer: the step covers the layer's calibrated maximum `top` (<=
    max(|a|, |b|)); w8a8 with a >= 0 uses 0..255 as relu does. The clamp is set by _clip_clamp."""
    if bounds[0] >= 0 and amax == 127:
        amax = RELU_HI_A8
    s = np.full(n_out, top / amax)
    return s, 0 if bounds[0] >= 0 else -amax, amax, s


def _clip_clamp(lo: int, hi: int, step: float, bounds) -> tuple[int, int]:
    """A clip(a, b) layer's integer clamp: [round(a / step), round(b / step)] (step: the real value of one unit
    of its y, the same for every unit) intersected with the format's [lo, hi]."""
    return max(lo, int(round_half_away(bounds[0] / step))), min(hi, int(round_half_away(bounds[1] / step)))


def _int8_layer(W, b, layer, s_in, in_absmax, act, last, plan, argmax, scheme) -> QLayer:
    """layer: the float DenseSpec (activation, clip bounds); s_in: (n_in,) real value of one integer step of each
    input (folded into the weight columns)."""
    activation, bounds = layer.activation, (layer.lo, layer.hi)
    w_eff = W * s_in[None, :]
    n_out = W.shape[0]
    calib = np.abs(act).max(axis=0)
    s_out, lo, hi, nxt = _int8_targets(activation, calib, last, plan, argmax, scheme, bounds)
    if activation == "clip":
        lo, hi = _clip_clamp(lo, hi, float(s_out[0]), bounds)
    sw0 = np.abs(w_eff).max(axis=1) / 127.0
    sw0 = np.where(sw0 > 0, sw0, 1.0)
    mult, shift, sw = np.zeros(n_out, np.int64), np.zeros(n_out, np.int64), np.zeros(n_out)
    for j in range(n_out):
        wq0 = np.clip(round_half_away(w_eff[j] / sw0[j]), -127, 127)
        bound = np.abs(wq0).sum() * in_absmax
        bound = int(bound + bound // 32 + abs(round_half_away(b[j] / sw0[j])) * 2 + 64)  # room for the correction
        m, s = choose_mult_shift(sw0[j] / s_out[j], min(bound, I32_MAX), up=True)
        mult[j], shift[j] = m, s
        sw[j] = m / 2.0**s * s_out[j]  # ≥ sw0[j]: exactly the requant ratio
    wq = np.clip(round_half_away(w_eff / sw[:, None]), -127, 127).astype(np.int64)
    bq = round_half_away(b / sw)
    check_i32("int8 bias", bq)
    info = {"weight_scale": sw.tolist(), "in_scale": np.asarray(s_in).tolist(), "out_scale": s_out.tolist(),
            "in_absmax": in_absmax, "out_scale_next": nxt, "calib_absmax": calib.tolist(), "step": float(s_out[0])}
    return QLayer(activation, 0, int(lo), int(hi), wq, bq.astype(np.int64), mult, shift, info)


def _q15_layer(W, b, layer, fa_in, in_absmax, act, last, plan, k) -> QLayer:
    activation = layer.activation
    wmax = float(np.abs(W).max())
    fw = pow2_format(wmax)
    wq = np.clip(round_half_away(W * 2.0**fw), -32767, 32767).astype(np.int64)
    n_out = W.shape[0]
    fixed = activation in ("tanh", "sigmoid", "hardtanh")
    if last and plan is not None and plan[0][1] is not None:  # writes Q`frac_j` directly
        fa_out = np.array([p[4].frac for p in plan])
        lo, hi = min(p[2] for p in plan), max(p[3] for p in plan)
        nxt = None
    elif last and plan is None:  # argmax logits: one format
        fa_out = np.full(n_out, pow2_format(float(np.abs(act).max()), LOGIT_LIMIT >> 1, 24))
        lo, hi, nxt = -LOGIT_LIMIT, LOGIT_LIMIT, None
    elif activation == "tanh":
        fa_out, lo, hi, nxt = np.full(n_out, 12), -TANH_LIMIT_Q12, TANH_LIMIT_Q12, 15
    elif activation == "sigmoid":
        fa_out, lo, hi, nxt = np.full(n_out, 11), -TANH_LIMIT_Q12, TANH_LIMIT_Q12, 15
    elif activation == "hardtanh":
        fa_out, lo, hi, nxt = np.full(n_out, 15), -32767, 32767, 15
    else:
        fa_out = np.full(n_out, pow2_format(float(np.abs(act).max())))
        lo, hi = (0, 32767) if activation == "relu" or activation == "clip" and layer.lo >= 0 else (-32767, 32767)
        nxt = None
    for p in range(16):
        shift = fw + fa_in - p - fa_out
        if (shift < 0).any():
            if last and activation != "clip" or fixed:
                raise ValueError(f"layer {k}: Q15 formats give a negative shift ({fw}+{fa_in}-{p}-{fa_out})")
            fa_out = fa_out + np.minimum(shift, 0)  # fewer output fraction bits rather than a left shift
            shift = np.maximum(shift, 0)
        bq = round_half_away(b * 2.0 ** (fw + fa_in - p))
        bound = np.abs(bq) + (-(-(np.abs(wq) * in_absmax) // (1 << p))).sum(axis=1)
        if (bound + ((np.int64(1) << shift.astype(np.int64)) >> 1)).max() <= I32_MAX:
            break
    else:
        raise ValueError(f"layer {k}: no product shift p ≤ 15 keeps the Q15 accumulator within int32")
    if nxt is None:
        nxt = int(fa_out.min())
        if not (fa_out == nxt).all() and not last:
            raise AssertionError("hidden q15 layers have one format")
    if activation == "clip":  # hidden, argmax or fixed-format last: one format fa_out for the layer
        lo, hi = _clip_clamp(lo, hi, 2.0 ** -int(fa_out[0]), (layer.lo, layer.hi))
    info = {"fw": fw, "fa_in": fa_in, "fa_out": fa_out.tolist(), "acc_absmax": bound.tolist(),
            "calib_absmax": float(np.abs(act).max()), "fa_next": nxt, "step": 2.0 ** -int(fa_out[0])}
    return QLayer(activation, p, int(lo), int(hi), wq, bq.astype(np.int64), np.ones(n_out, np.int64),
                  shift.astype(np.int64), info)


def _correct_biases(model: QuantMLP, spec: MLPSpec, calib) -> None:
    """Sequential bias correction (int8): for each layer in turn, the mean difference between the dequantized
    accumulator (with the *quantized* inputs of the calibration rows) and the float pre-activation is removed
    from the integer bias (relu: averaged where the float unit is active; hardtanh, clip: where it is not clipped).
    The (mult, shift) stay (the weight scales depend on them); the int32 bounds are re-checked."""
    xq = model.quantize_inputs(calib)
    x = spec.features(calib)
    for k, (layer, fl) in enumerate(zip(model.layers, spec.layers, strict=True)):
        fold = np.asarray(layer.info["fold"])
        z = x @ np.asarray(fl.weight, np.float64).T + np.asarray(fl.bias, np.float64)
        _, traces, _ = model.trace(xq)
        sw = np.asarray(layer.info["weight_scale"])
        diff = traces[k].acc * sw[None, :] - z * fold[None, :]
        if layer.activation in ("relu", "hardtanh", "clip"):
            lo, hi = {"relu": (0.0, np.inf), "hardtanh": (-1.0, 1.0)}.get(layer.activation, (fl.lo, fl.hi))
            w = ((z > lo) & (z < hi)).astype(np.float64)
            mean = (diff * w).sum(0) / np.maximum(w.sum(0), 1)
        else:
            mean = diff.mean(0)
        layer.bias = layer.bias - round_half_away(mean / sw).astype(np.int64)
        layer.info["bias_correction"] = (mean / sw).tolist()
        x = apply_activation(z, fl.activation, fl.lo, fl.hi)
    bad = int32_bound_violations(model)
    if bad:
        raise ValueError(f"bias correction broke the int32 bound: {bad[0]}")
