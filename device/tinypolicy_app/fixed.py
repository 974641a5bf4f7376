# device: fixed-point helpers of the app and the tests: angle reduction, sin/cos, tanh from the runtime's tables.
"""Q12 = value * 4096 (radians, rad/s, N*m); Q14 = value * 16384 (sin, cos, tanh); turn units: 65536 per turn.

`sin_q14` / `cos_q14` / `turn_q12` / `tanh_q14` are viper functions of native ints: they allocate nothing and
can be called from other viper code (`int(sin_q14(t))`) or from Python with small ints. All intermediates stay
within int32, so 32-bit (armv6m, xtensawin, rv32imc) and 64-bit (x64) ports give the same bits. Float -> Q12 is
`tinypolicy.floats.to_q(x, 12)` (plain Python: the float path must not import viper code).
Accuracy (contract): |sin_q14/16384 - sin| <= 3.2e-4 from a Q12 angle in [-pi, pi]; |tanh_q14/16384 - tanh|
<= 7.4e-5. The runtime kernels (tinypolicy.kernels, .portable) inline the same arithmetic.
"""
import micropython
from micropython import const

from tinypolicy.tables import SIN_Q14, TANH_Q14

Q12_ONE = const(4096)
Q14_ONE = const(16384)
PI_Q12 = const(12868)  # round(pi * 4096)
TWO_PI_Q12 = const(25736)
TURN_MULT = const(10430)  # 65536 / (2 pi) in Q12
THETA_DOT_LIMIT_Q12 = const(131072)  # +-32 rad/s clamp before the feature stage
TANH_LIMIT_Q12 = const(16384)  # tanh pre-activations are clamped to +-4.0


@micropython.viper
def turn_q12(t: int) -> int:
    """Q12 angle (any wrap within int32) -> turn units 0..65535: the reduction to [-pi, pi] (same result as the
    contract's while loops, computed with one division) then ((t * 10430 + 2048) >> 12) & 0xFFFF."""
    if t > PI_Q12:
        t -= ((t - PI_Q12 - 1) // TWO_PI_Q12 + 1) * TWO_PI_Q12
    elif t < 0 - PI_Q12:
        t += ((0 - PI_Q12 - t - 1) // TWO_PI_Q12 + 1) * TWO_PI_Q12
    return ((t * TURN_MULT + 2048) >> 12) & 0xFFFF


@micropython.viper
def sin_turn(a: int) -> int:
    """sin of a in turn units (0..65535) as Q14: quarter-wave table SIN_Q14, linear interpolation in 1/64 steps."""
    tab = ptr16(SIN_Q14)
    q = (a >> 14) & 3
    r = a & 0x3FFF
    if q & 1:
        r = Q14_ONE - r
    i = r >> 6
    s = int(tab[i])
    s += ((int(tab[i + 1]) - s) * (r & 63) + 32) >> 6
    if q >= 2:
        s = 0 - s
    return s


@micropython.viper
def sin_q14(t: int) -> int:
    """sin of a Q12 angle (any wrap), Q14 in [-16384, 16384]. Allocation-free."""
    return int(sin_turn(int(turn_q12(t))))


@micropython.viper
def cos_q14(t: int) -> int:
    """cos of a Q12 angle (any wrap), Q14: sin((a + 16384) & 0xFFFF) in turn units. Allocation-free."""
    return int(sin_turn((int(turn_q12(t)) + Q14_ONE) & 0xFFFF))


@micropython.viper
def tanh_q14(z: int) -> int:
    """T(z): tanh of a Q12 value already clamped to +-16384 (+-4.0), as Q14 (table TANH_Q14, sign restored)."""
    tab = ptr16(TANH_Q14)
    u = z
    if u < 0:
        u = 0 - u
    i = u >> 6
    t = int(tab[i])
    t += ((int(tab[i + 1]) - t) * (u & 63) + 32) >> 6
    if z < 0:
        t = 0 - t
    return t
