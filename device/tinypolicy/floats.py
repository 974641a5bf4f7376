# device: the float side of the Policy API (infer, the f32 blobs' infer_q): imported on first use, so a control
# loop that only calls infer_q on an int8 / q15 policy never holds this code. `p` is the Policy (this module is
# part of it: it reads the Policy's conversion table and scratch buffers).
_I32 = 2147483647.0


def to_q(x, frac):
    """Float -> Q`frac` int: floor(x * 2^frac + 0.5), the contract's conversion (host and device alike)."""
    v = x * (1 << frac) + 0.5
    q = int(v)  # truncates toward zero: step down for negative non-integers (floor without importing math)
    return q - 1 if q > v else q


def float_q(p, inp, out, run):
    """f32 blobs' infer_q / run_layers: ints / 2^in_frac -> the float path -> clamp(to_q(y, out_frac), qlo, qhi)
    (run_layers: the activations as Q12 ints)."""
    ys = p._net.forward([inp[i] / (1 << p.in_frac[i]) for i in range(p.n_inputs)], run)  # type: ignore
    if p.argmax and run < 0:
        out[0] = ys[0]
        return
    for j in range(len(ys)):
        if run < 0:
            out[j] = max(p.out_lo_q[j], min(p.out_hi_q[j], to_q(ys[j], p.out_frac[j])))
        else:
            out[j] = int(max(-_I32, min(_I32, to_q(ys[j], 12))))


def infer(p, x):
    """x: n_inputs floats (the inputs' units) -> list of n_outputs floats (argmax head: [index], an int).
    A NaN / inf input raises ValueError naming it. Integer dtypes: each input to Q`in_frac` (floor(x * 2^f +
    0.5), affine inputs clamped to their integer range first), the integer kernel, outputs / 2^out_frac.
    Allocates."""
    if len(x) != p.n_inputs:
        raise ValueError("expected %d inputs, got %d" % (p.n_inputs, len(x)))
    for i in range(p.n_inputs):
        v = x[i]
        if v - v != 0:
            raise ValueError("input %d: %r is not finite" % (i, v))
    if p._net is not None:
        return p._net.forward(x)
    q = p._qin
    for i in range(p.n_inputs):
        angle, frac, qlo, qhi = p._conv[i]
        v = x[i]
        lim = _I32 / (1 << frac)
        if angle:
            if not -lim <= v <= lim:
                raise ValueError("input %d: angle %r outside the Q12 int32 range" % (i, v))
            q[i] = to_q(v, frac)
        else:
            v = to_q(-lim if v < -lim else (lim if v > lim else v), frac)
            q[i] = qlo if v < qlo else (qhi if v > qhi else v)
    o = p._qout
    p.infer_q(q, o)
    if p.argmax:
        return [o[0]]
    return [o[j] / (1 << p.out_frac[j]) for j in range(p.n_outputs)]
