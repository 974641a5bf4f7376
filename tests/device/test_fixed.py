# device: fixed-point helpers (tinypolicy_app.fixed) against the host reference's intermediates and math.*.
import math

from devtest import assert_no_alloc
from tinypolicy.floats import to_q
from tinypolicy_app.fixed import cos_q14, sin_q14, sin_turn, tanh_q14, turn_q12


def _layer_rows(path):
    """(theta_q12, turn, cos_q14, sin_q14) of input 0 (an angle) from a golden *_layers.csv (host reference
    intermediates, format in tests/data/golden/README.md)."""
    with open(path) as f:
        head = f.readline().strip().split(",")
        it, ia, ic, is_ = (head.index(n) for n in ("in0", "a0_turn", "a0_cos", "a0_sin"))
        for line in f:
            v = line.split(",")
            yield int(v[it]), int(v[ia]), int(v[ic]), int(v[is_])


def test_to_q():
    assert to_q(0.0, 12) == 0 and to_q(1.0, 12) == 4096 and to_q(-1.0, 12) == -4096
    assert to_q(0.5 / 4096, 12) == 1 and to_q(-0.5 / 4096, 12) == 0  # floor(x + 0.5): halves go up
    assert to_q(math.pi, 12) == 12868 and to_q(-2.5, 0) == -2 and to_q(0.75, 1) == 2 and to_q(1e-9, 24) == 0


def test_sin_cos_match_host_reference():
    n = 0
    for scheme in ("w8a8", "q15"):
        path = "tests/data/golden/pendulum/golden_%s_layers.csv" % scheme
        for t, a, c, s in _layer_rows(path):
            assert turn_q12(t) == a, (t, turn_q12(t), a)
            assert sin_q14(t) == s and cos_q14(t) == c, (t, sin_q14(t), s, cos_q14(t), c)
            n += 1
    assert n > 100


def test_angle_reduction_edges():
    for t in (12868, 12869, -12868, -12869, 25736, -25736, 2147483647, -2147483648, 0):
        # the contract's literal while loops
        r = t
        while r > 12868:
            r -= 25736
        while r < -12868:
            r += 25736
        assert turn_q12(t) == ((r * 10430 + 2048) >> 12) & 0xFFFF, t


def test_sin_accuracy():
    worst = 0.0
    for a in range(0, 65536, 7):
        err = abs(sin_turn(a) / 16384 - math.sin(a * 2 * math.pi / 65536))
        worst = max(worst, err)
    assert worst <= 6.1e-5, worst
    assert sin_turn(0) == 0 and sin_turn(16384) == 16384 and sin_turn(49152) == -16384


def test_tanh_accuracy_and_symmetry():
    worst = 0.0
    for z in range(-16384, 16385, 3):
        t = tanh_q14(z)
        assert t == -tanh_q14(-z)
        worst = max(worst, abs(t / 16384 - math.tanh(z / 4096)))
    assert worst <= 7.4e-5, worst


def test_sigmoid_via_tanh_accuracy():
    """The contract's sigmoid (models/README.md): y = x in Q11 clamped to +-16384 (+-8.0), T(y) = tanh(x/2) in
    Q14, sigmoid Q15 = 16384 + T(y), int8 (16384 + T(y) + 64) >> 7 at scale 1/256. Max error vs
    1 / (1 + e^-x), every y: Q15 3.7e-5, int8 2.0e-3 (the host test measures the same, test_quant.py)."""
    worst15 = worst8 = 0.0
    lo, hi = 32768, 0
    for y in range(-16384, 16385):
        s15 = 16384 + tanh_q14(y)
        s8 = (s15 + 64) >> 7
        f = 1.0 / (1.0 + math.exp(-y / 2048))
        worst15 = max(worst15, abs(s15 / 32768 - f))
        worst8 = max(worst8, abs(s8 / 256 - f))
        lo, hi = min(lo, s15), max(hi, s15)
    assert worst15 <= 3.7e-5 and worst8 <= 2.0e-3, (worst15, worst8)
    assert 0 < lo and hi < 32767, (lo, hi)  # no clamp needed after 16384 + T


def test_fixed_functions_allocate_nothing():
    res = bytearray(3)

    def calls():  # assert_no_alloc(fn) without arguments: a call with *args would allocate by itself
        res[0] = sin_q14(123456) == -15674
        res[1] = cos_q14(-5000) == 5620
        res[2] = tanh_q14(-9000) == -15985

    assert_no_alloc(calls)
    assert res == bytearray((1, 1, 1)), (res, sin_q14(123456), cos_q14(-5000), tanh_q14(-9000))
