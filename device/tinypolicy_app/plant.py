# device: simulated Pendulum-v1 plant in fixed point (allocation-free step, no floats).
"""Gymnasium Pendulum-v1 dynamics (g = 10, m = l = 1, max_speed 8, max_torque 2), integrated with the tick
period as dt (semi-implicit Euler, as gymnasium does):

    u   = clip(u, -2, 2)
    w'  = clip(w + (15 sin th + 3 u) dt, -8, 8)
    th' = th + w' dt                      (then wrapped into [-pi, pi): th = 0 is upright)

State `st` is array('i') [th, w], both **Q20** (rad, rad/s x 2^20): 1e-6 resolution, so 5 ms steps do not
drift (the rounding error per step is 5e-7). Torque in Q12 N*m. dt is an integer number of ms (5..50), the
division by 1000 is exact-rounded (half away from zero). Every intermediate stays within int32 (largest:
|a| * 64 * dt_ms <= 344064 * 64 * 50 = 1.1e9), so 32-bit ports (armv6m, xtensawin) compute the same bits
as x64. sin comes from the policy's own table (`tinypolicy_app.fixed.sin_q14`, Q12 angle -> Q14).
"""
from array import array

import micropython
from micropython import const

from tinypolicy_app.fixed import sin_q14

Q = const(20)  # state fractional bits
PI_Q20 = const(3294199)  # round(pi * 2^20)
TWO_PI_Q20 = const(6588397)  # round(2 pi * 2^20)
MAX_SPEED_Q20 = const(8388608)  # 8 rad/s
MAX_TORQUE_Q12 = const(8192)  # 2 N*m


@micropython.viper
def pendulum_step(st: ptr32, u: int, dt_ms: int):
    """Advance st = [th_q20, w_q20] by dt_ms with torque u (Q12 N*m). Allocation-free."""
    one = 1
    sb = one << 31  # ptr32 loads are zero-extended on 64-bit targets: (v ^ sb) - sb restores the sign
    th = (st[0] ^ sb) - sb
    w = (st[1] ^ sb) - sb
    if u > MAX_TORQUE_Q12:
        u = MAX_TORQUE_Q12
    elif u < 0 - MAX_TORQUE_Q12:
        u = 0 - MAX_TORQUE_Q12
    s = int(sin_q14((th + 128) >> 8))  # Q12 angle in, Q14 out
    # Q14 rad/s^2: 3g/(2l) sin th + 3/(m l^2) u (u Q12 -> Q14 is x4); then x64 -> Q20, x dt_ms / 1000.
    n = (15 * s + 12 * u) * 64 * dt_ms
    if n < 0:
        w -= ((0 - n) + 500) // 1000
    else:
        w += (n + 500) // 1000
    if w > MAX_SPEED_Q20:
        w = MAX_SPEED_Q20
    elif w < 0 - MAX_SPEED_Q20:
        w = 0 - MAX_SPEED_Q20
    n = w * dt_ms
    if n < 0:
        th -= ((0 - n) + 500) // 1000
    else:
        th += (n + 500) // 1000
    if th >= PI_Q20:
        th -= TWO_PI_Q20
    elif th < 0 - PI_Q20:
        th += TWO_PI_Q20
    st[0] = th
    st[1] = w


def to_q20(x):
    """Float -> Q20 (foreground only: floats allocate)."""
    return int(x * 1048576 + 0.5) if x >= 0 else -int(-x * 1048576 + 0.5)


def wrap_q20(th):
    while th >= PI_Q20:
        th -= TWO_PI_Q20
    while th < -PI_Q20:
        th += TWO_PI_Q20
    return th


class Pendulum:
    """Simulated plant. `st` = array('i') [theta_q20, theta_dot_q20]; `torque` = last applied Q12 torque."""

    def __init__(self, theta_q20, theta_dot_q20, dt_ms):
        self.st = array("i", (wrap_q20(theta_q20), theta_dot_q20))
        self.dt_ms = dt_ms
        self.torque = 0

    def step(self):
        pendulum_step(self.st, self.torque, self.dt_ms)  # type: ignore[arg-type]  # viper ptr32 <- array
