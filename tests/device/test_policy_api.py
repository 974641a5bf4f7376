# device: the Policy API contract (attributes, infer, infer_q) and the allocation-free tick path.
import gc
import math
from array import array

from devtest import assert_no_alloc
from tinypolicy import ModelError, Policy


def test_attributes():
    for dtype, scheme in (("f32", "f32"), ("int8", "w8a16"), ("int8_a8", "w8a8"), ("q15", "q15")):
        p = Policy.load("models/policy_%s.bin" % dtype)
        assert p.dtype == dtype[:4] and p.scheme == scheme and p.n_inputs == 2 and p.n_outputs == 1
        assert isinstance(p.max_torque, float) and abs(p.max_torque - 2.0) < 1e-6
        assert p.out_hi_q == (8192,) and p.out_lo_q == (-8192,) and p.in_frac == (12, 12) and p.out_frac == (12,)
        assert p.in_kind == (1, 0) and not p.argmax and p.kernel == ("float" if dtype == "f32" else "viper")


def test_model_error_is_one_type():
    assert issubclass(ModelError, Exception)
    try:
        Policy.load("models/missing.bin")
    except ModelError:
        return
    raise AssertionError("no ModelError")


def test_infer_returns_list_of_floats_within_limits():
    for dtype in ("f32", "int8", "q15"):
        p = Policy.load("models/policy_%s.bin" % dtype)
        for x in ([0.0, 0.0], [3.0, -5.0], [-0.1, 0.4], [100.0, 1e9]):
            y = p.infer(x)
            assert isinstance(y, list) and len(y) == 1 and isinstance(y[0], float)
            assert -2.0 <= y[0] <= 2.0, (dtype, x, y)


def test_infer_matches_infer_q():
    p = Policy.load("models/policy_int8.bin")
    inp = array("i", (0, 0))
    out = array("i", (0,))
    for th, w in ((0.3, -1.25), (-2.9, 7.5), (0.01, 0.02)):
        inp[0] = int(math.floor(th * 4096 + 0.5))
        inp[1] = int(math.floor(w * 4096 + 0.5))
        p.infer_q(inp, out)
        assert p.infer([th, w])[0] == out[0] / 4096


def test_infer_q_allocates_nothing_int8_q15():
    for dtype in ("int8", "q15"):
        p = Policy.load("models/policy_%s.bin" % dtype)
        inp = array("i", (-2147483648, 2147483647))  # int32 extremes: wrap and clamp paths
        out = array("i", (0,))

        def once():  # no *args: a star-args call allocates by itself
            p.infer_q(inp, out)

        assert_no_alloc(once)
        first = out[0]
        inp[0], inp[1] = 5000, -70000
        f = p.infer_q  # the control loop calls p.infer_q(inp, out) directly; both forms must not allocate

        def tick():
            for _ in range(100):
                p.infer_q(inp, out)
                f(inp, out)

        assert_no_alloc(tick)
        assert -8192 <= first <= 8192 and -8192 <= out[0] <= 8192


def test_infer_q_works_for_f32():
    p = Policy.load("models/policy_f32.bin")
    inp = array("i", (4096, -8192))
    out = array("i", (0,))
    p.infer_q(inp, out)
    want = p.infer([1.0, -2.0])[0]
    assert abs(out[0] - want * 4096) <= 0.5 + 1e-9, (out[0], want)


def test_ram_held_by_a_loaded_int8_policy():
    gc.collect()
    before = gc.mem_alloc()
    p = Policy.load("models/policy_int8.bin")
    gc.collect()
    held = gc.mem_alloc() - before
    assert p.dtype == "int8"
    assert held <= 3072, held  # v2: the 824-byte blob, descriptor, buffers and the API's small tuples


def test_f32_path_imports_no_viper_code():
    # A port without the native emitter cannot import kernels / fixed (@micropython.viper): `import tinypolicy`,
    # loading an f32 blob, infer and infer_q must not import them. Fresh import: drop the package from
    # sys.modules (earlier tests imported it), restore it afterwards.
    import sys

    def ours():
        return [k for k in sys.modules if k == "tinypolicy" or k.startswith("tinypolicy.")]

    saved = {k: sys.modules[k] for k in ours()}
    for k in saved:
        del sys.modules[k]
    viper = ("tinypolicy.kernels", "tinypolicy_app.fixed")
    try:
        tp = __import__("tinypolicy")
        assert [m for m in viper if m in sys.modules] == []
        p = tp.Policy.load("models/policy_f32.bin")
        y = p.infer([0.25, -1.0])[0]
        out = array("i", (0,))
        p.infer_q(array("i", (1024, -4096)), out)
        assert abs(out[0] - y * 4096) <= 0.5 + 1e-9, (out[0], y)
        assert p.out_hi_q == (8192,)
        assert [m for m in viper if m in sys.modules] == [], ours()
        assert tp.Policy.load("models/policy_int8.bin", kernel="portable").kernel == "portable"
        assert [m for m in viper if m in sys.modules] == [], ours()  # the portable kernel is plain Python
        assert tp.Policy.load("models/policy_int8.bin").dtype == "int8"
        assert "tinypolicy.kernels" in sys.modules  # the check above can fail: int8 does import the kernel
    finally:
        for k in ours():
            del sys.modules[k]
        sys.modules.update(saved)
