# heapsize: 256K
# (the test's own blob generator and two loaded copies of each net; the runtime itself fits 128K)
# device: the viper and the portable kernels give the same bits on generic v2 nets (multi-input / output,
# W8A8, W8A16, q15, argmax, tanh / sigmoid / hardtanh), allocation-free under heap_lock, and the Policy API.
import os
from array import array

from v2blob import Lcg, random_net

from devtest import assert_no_alloc
from tinypolicy import Policy

TMP = "build/tmp"
# (name, dtype, input kinds, widths, activations, a16, argmax)
NETS = (
    ("multi_a8", "int8", (0, 1, 0, 0, 0, 0), (24, 16, 4), (1, 2, 0), False, False),
    ("multi_a16", "int8", (0, 1, 0, 0, 0, 0), (24, 16, 4), (1, 2, 0), True, False),
    ("multi_q15", "q15", (0, 1, 0, 0, 0, 0), (24, 16, 4), (1, 4, 0), False, False),
    ("hs_a16", "int8", (1, 0), (12, 10, 8, 1), (4, 3, 4, 0), True, False),
    ("hs_q15", "q15", (1, 0), (12, 10, 8, 1), (4, 3, 4, 0), False, False),
    ("tanh_out_a8", "int8", (0, 0, 0), (13, 5), (1, 2), False, False),
    ("sig_out_a16", "int8", (0, 0, 0), (7, 3), (3, 4), True, False),
    ("argmax_a8", "int8", (0, 0, 0, 0), (32, 5), (1, 0), False, True),
    ("argmax_a16", "int8", (0, 0, 0, 0), (32, 7), (1, 2), True, True),
    ("one_layer", "q15", (0,), (1,), (0,), False, False),
)


def _path(name, data):
    for d in ("build", TMP):
        try:
            os.mkdir(d)
        except OSError:
            pass
    path = TMP + "/" + name + ".bin"
    with open(path, "wb") as f:
        f.write(data)
    return path


def _blob(spec, seed=5):
    import gc

    gc.collect()
    name, dtype, kinds, widths, acts, a16, argmax = spec
    return _path(name, random_net(dtype, kinds, widths, acts, a16=a16, argmax=argmax, seed=seed))


def _inputs(r, p, inp):
    for i in range(p.n_inputs):
        k = r.next(0, 9)
        if k == 0:  # int32 extremes: wrap (angles) and clamp (affine) paths
            inp[i] = -2147483648 if r.next(0, 1) else 2147483647
        else:
            span = 1 << (p.in_frac[i] + (4 if k < 8 else 9))
            inp[i] = r.next(-span, span)


def test_viper_and_portable_agree_bit_for_bit():
    for spec in NETS:
        path = _blob(spec)
        pv = Policy.load(path, kernel="viper")
        pp = Policy.load(path, kernel="portable")
        assert (pv.kernel, pp.kernel) == ("viper", "portable")
        inp = array("i", bytes(4 * pv.n_inputs))
        ov = array("i", bytes(4 * max(pv.widths)))
        op = array("i", bytes(4 * max(pv.widths)))
        r = Lcg(11)
        seen = set()
        for n in range(400):
            _inputs(r, pv, inp)
            pv.infer_q(inp, ov)
            pp.infer_q(inp, op)
            for j in range(pv.n_outputs):
                assert ov[j] == op[j], (spec[0], n, j, list(inp), ov[j], op[j])
                assert pv.out_lo_q[j] <= ov[j] <= pv.out_hi_q[j], (spec[0], ov[j])
            seen.add(tuple(ov[:pv.n_outputs]))
            if n % 50 == 0:  # every intermediate too
                for k in range(pv.n_layers):
                    w = pv.run_layers(inp, k, ov)
                    assert pp.run_layers(inp, k, op) == w == pv.widths[k]
                    assert ov[:w] == op[:w], (spec[0], "layer", k)
        assert len(seen) >= (3 if spec[6] else 20), (spec[0], len(seen))  # the inputs exercise the net


def test_argmax_head_is_the_first_maximum():
    spec = NETS[7]
    p = Policy.load(_blob(spec), kernel="viper")
    assert p.argmax and p.n_outputs == 1 and p.out_lo_q == (0,) and p.out_hi_q == (4,)
    inp = array("i", bytes(4 * p.n_inputs))
    out = array("i", (0,))
    r = Lcg(3)
    classes = set()
    for _ in range(300):
        _inputs(r, p, inp)
        p.infer_q(inp, out)
        y = p.infer([inp[i] / (1 << p.in_frac[i]) for i in range(p.n_inputs)])
        assert isinstance(y[0], int) and 0 <= out[0] <= 4
        classes.add(out[0])
    assert len(classes) >= 3, classes
    # ties: all logits equal -> index 0 (the first maximum); a blob whose last layer has zero weights and bias
    name, dtype, kinds, widths, acts, a16, argmax = spec
    data = bytearray(random_net(dtype, kinds, widths, acts, argmax=True, seed=5))
    from v2blob import offsets, recrc

    w, b, m, s = offsets(data)["sec"][1]
    for i in range(w, m):
        data[i] = 0
    for kernel in ("viper", "portable"):
        pt = Policy.load(_path("ties", recrc(data)), kernel=kernel)
        pt.infer_q(inp, out)
        assert out[0] == 0, (kernel, out[0])


def test_infer_q_allocates_nothing_both_kernels():
    for spec in NETS:
        path = _blob(spec)
        for kernel in ("viper", "portable"):
            p = Policy.load(path, kernel=kernel)
            inp = array("i", bytes(4 * p.n_inputs))
            out = array("i", bytes(4 * max(p.widths)))
            for i in range(p.n_inputs):
                inp[i] = 1000 * (i + 1) - 2500
            f = p.infer_q  # the control loop's form and the attribute form must both be allocation-free

            def tick():
                for _ in range(20):
                    p.infer_q(inp, out)
                    f(inp, out)
                p.run_layers(inp, 1, out)

            assert_no_alloc(tick)


def test_attributes():
    p = Policy.load(_blob(NETS[1]))
    assert p.dtype == "int8" and p.scheme == "w8a16" and p.n_inputs == 6 and p.n_outputs == 4 and p.n_layers == 3
    assert p.kernel == "viper" and p.in_kind == (0, 1, 0, 0, 0, 0) and p.widths == (7, 24, 16, 4)
    assert p.in_frac == (8, 12, 10, 11, 12, 8) and p.out_frac == (10, 11, 12, 10)
    assert p.out_lo_q[0] == -1024000 and p.out_hi_q[3] == 1024000 and p.max_torque == 1000.0
    assert p.layers == ((7, 24, 1), (24, 16, 2), (16, 4, 0))
    assert Policy.load(_blob(NETS[0])).scheme == "w8a8" and Policy.load(_blob(NETS[2])).scheme == "q15"


def test_infer_matches_infer_q_and_names_bad_inputs():
    p = Policy.load(_blob(NETS[0]))
    inp = array("i", bytes(4 * 6))
    out = array("i", bytes(16))
    xs = [0.5, -2.9, 1.25, 100.0, -1e12, 3.0]  # 100 and -1e12: clamped to the affine inputs' integer range
    for i in range(6):
        q = xs[i] * (1 << p.in_frac[i])
        q = max(-2147483648, min(2147483647, int(q + 0.5) if q >= 0 else -int(-q - 0.5 + 1) + 1))
        inp[i] = q
    p.infer_q(inp, out)
    y = p.infer(xs)
    assert len(y) == 4 and all(isinstance(v, float) for v in y)
    assert y == [out[j] / (1 << p.out_frac[j]) for j in range(4)], (y, list(out))
    for bad in (float("nan"), float("inf"), float("-inf")):
        try:
            p.infer([0.0, 0.0, bad, 0.0, 0.0, 0.0])
        except ValueError as exc:
            assert "input 2" in str(exc) and "not finite" in str(exc), str(exc)
        else:
            raise AssertionError("no ValueError for %r" % bad)
    try:
        p.infer([0.0, 1e300, 0, 0, 0, 0])  # an angle beyond the Q12 int32 range
    except ValueError as exc:
        assert "input 1" in str(exc), str(exc)
    else:
        raise AssertionError("no ValueError")
    try:
        p.infer([0.0])
    except ValueError as exc:
        assert "expected 6 inputs" in str(exc), str(exc)
    else:
        raise AssertionError("no ValueError")


def test_f32_path_generic():
    spec = ("multi_f32", "f32", (0, 1, 0, 0, 0, 0), (24, 16, 4), (1, 2, 0), False, False)
    p = Policy.load(_blob(spec))
    assert p.kernel == "float" and p.scheme == "f32"
    y = p.infer([0.5, -2.9, 1.25, 3.0, -1.0, 0.0])
    assert len(y) == 4 and all(-1000.0 <= v <= 1000.0 for v in y), y
    inp = array("i", bytes(4 * 6))
    for i, x in enumerate((0.5, -2.9, 1.25, 3.0, -1.0, 0.0)):
        inp[i] = int(x * (1 << p.in_frac[i]))  # these are exact in their Q formats? only approximately: compare loosely
    out = array("i", bytes(4 * 4))
    p.infer_q(inp, out)
    z = p.infer([inp[i] / (1 << p.in_frac[i]) for i in range(6)])
    for j in range(4):
        assert abs(out[j] - z[j] * (1 << p.out_frac[j])) <= 0.5 + 1e-6, (j, out[j], z[j])
        assert p.out_lo_q[j] <= out[j] <= p.out_hi_q[j]
    try:
        p.infer([0.0, float("nan"), 0.0, 0.0, 0.0, 0.0])
    except ValueError as exc:
        assert "input 1" in str(exc), str(exc)
    else:
        raise AssertionError("no ValueError")
    am = ("argmax_f32", "f32", (0, 0, 0, 0), (32, 5), (1, 0), False, True)
    pa = Policy.load(_blob(am))
    c = pa.infer([0.1, 0.2, -0.3, 0.4])
    assert len(c) == 1 and isinstance(c[0], int) and 0 <= c[0] <= 4


def test_kernel_choice():
    path = _blob(NETS[0])
    p = Policy.load(path)
    try:  # run_layers checks the room it writes into (layer 1 has 24 units)
        p.run_layers(array("i", bytes(24)), 1, array("i", (0,)))
    except ValueError as exc:
        assert "out" in str(exc) and "24" in str(exc), str(exc)
    else:
        raise AssertionError("run_layers wrote past out")
    for bad in ("asm", "", 3):
        try:
            Policy.load(path, kernel=bad)
        except ValueError as exc:
            assert "kernel" in str(exc), str(exc)
        else:
            raise AssertionError("kernel %r accepted" % (bad,))


def test_int8_with_a_product_shift_runs_on_the_portable_kernel():
    """Legal but never written by the host: the viper kernel has no int8 pshift loop, so Policy picks the portable
    kernel (the host's test_kernel_paths replays such a blob bit-exactly through batch mode)."""
    from v2blob import offsets, recrc

    data = bytearray(random_net("int8", (0, 1), (6, 2), (1, 0), seed=4))
    data[offsets(data)["layers"] + 16 + 5] = 2  # layer 1 pshift
    path = _path("pshift", recrc(data))
    p = Policy.load(path)
    assert p.kernel == "portable", p
    try:
        Policy.load(path, kernel="viper")
    except ValueError as exc:
        assert "pshift" in str(exc), str(exc)
    else:
        raise AssertionError("viper accepted an int8 pshift blob")
    inp = array("i", (5000, 4096))
    out = array("i", (0, 0))
    assert_no_alloc(lambda: p.infer_q(inp, out))
    assert p.out_lo_q[0] <= out[0] <= p.out_hi_q[0]
