# device: a pendulum rig on one ADC input (angle) and an H-bridge (PWM + direction): the I/O math the boards share.
"""AnalogRig: theta from a potentiometer or an AS5600 in analog-output mode, torque to a PHASE/ENABLE H-bridge.

- angle: the ADC's read_u16() >> 4 (12 bits, 0..4095 over one turn), minus the reading with the pendulum upright,
  scaled to Q12 rad (2*pi per 4096 counts), sign-corrected and wrapped to [-pi, pi].
- theta_dot: the wrapped finite difference over the control period (Q12 rad/s), low-pass filtered
  (w += (d - w) / 4); the first reading after start gives 0.
- torque: duty_u16 = |torque_q12| * 65535 / full_scale_q12 (saturated), the sign on the direction pin (1 = negative).
  |torque| >= full scale gives 65535 without multiplying, so the product stays below 16384 * 65535 < 2^30 (a small
  int on 32-bit ports, whatever the torque): full_scale_torque_q12 is limited to 1..16384 (4 N*m).

The calibration is checked once, in __init__ (ValueError naming the parameter), never in the tick.

Tick-side methods (read, write) allocate nothing: they may run in a hard timer IRQ. The board module creates the
peripherals (pins differ per board), hands them over with `use(AnalogRig(...))` in its setup(), and re-exports
read_sensor / write_actuator / actuator_off below as its board API.
"""

TWO_PI_Q12 = 25736
PI_Q12 = 12868
FULL_SCALE_MAX_Q12 = 16384  # (FULL_SCALE_MAX_Q12 - 1) * 65535 < 2^30: write()'s product is always a small int


def _check(name, value, lo, hi, want):
    """ValueError unless value is an int in lo..hi (hi None: no upper bound)."""
    if not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        raise ValueError("AnalogRig: %s = %r: want %s" % (name, value, want))


class AnalogRig:
    def __init__(self, adc, pwm, dir_pin, period_ms, zero_raw12=2048, angle_sign=1, motor_sign=1,
                 full_scale_torque_q12=8192):
        _check("period_ms", period_ms, 1, None, "an integer >= 1 (the control period)")
        _check("zero_raw12", zero_raw12, 0, 4095,
               "an integer 0..4095 (the 12-bit ADC reading with the pendulum upright)")
        for name, sign in (("angle_sign", angle_sign), ("motor_sign", motor_sign)):
            if not isinstance(sign, int) or sign not in (1, -1):
                raise ValueError("AnalogRig: %s = %r: want 1 or -1" % (name, sign))
        _check("full_scale_torque_q12", full_scale_torque_q12, 1, FULL_SCALE_MAX_Q12,
               "an integer 1..%d (Q12 N*m at 100 %% duty)" % FULL_SCALE_MAX_Q12)
        self.adc, self.pwm, self.dir = adc, pwm, dir_pin
        self.period_ms = period_ms
        self.zero = zero_raw12
        self.angle_sign = angle_sign
        self.motor_sign = motor_sign
        self.full_scale = full_scale_torque_q12
        self.last = 0  # previous theta_q12
        self.w = 0  # filtered theta_dot_q12
        self.primed = False
        self.off()

    def angle_q12(self):
        t = (((self.adc.read_u16() >> 4) - self.zero) * TWO_PI_Q12) >> 12  # 12-bit counts: products < 2^30
        if self.angle_sign < 0:
            t = -t
        return wrap_q12(t)

    def read(self, inp):
        """inp[0] = theta_q12 (0 = upright), inp[1] = theta_dot_q12."""
        t = self.angle_q12()
        d = wrap_q12(t - self.last)  # the shortest way round
        self.last = t
        if not self.primed:
            self.primed = True
            d = 0
        self.w += (d * 1000 // self.period_ms - self.w) >> 2
        inp[0] = t
        inp[1] = self.w

    def write(self, torque_q12):
        t = torque_q12 if self.motor_sign > 0 else -torque_q12
        a = -t if t < 0 else t
        fs = self.full_scale
        self.dir.value(1 if t < 0 else 0)
        self.pwm.duty_u16(65535 if a >= fs else a * 65535 // fs)  # a < fs <= 16384: product < 2^30

    def off(self):
        self.pwm.duty_u16(0)


_rig = None  # the board's rig, set by use() from board.setup()


def use(rig):
    global _rig
    _rig = rig


def read_sensor(inp):
    """Board API, tick side: inp[0] = theta_q12, inp[1] = theta_dot_q12."""
    assert _rig is not None
    _rig.read(inp)


def write_actuator(torque_q12):
    """Board API, tick side: |torque| -> PWM duty, sign -> direction pin."""
    assert _rig is not None
    _rig.write(torque_q12)


def actuator_off():
    """Board API: stop the motor (safe on exit, on Ctrl-C, and before setup)."""
    if _rig is not None:
        _rig.off()


def wrap_q12(t):
    """A Q12 angle within one turn of [-pi, pi] back into it."""
    if t > PI_Q12:
        return t - TWO_PI_Q12
    if t < -PI_Q12:
        return t + TWO_PI_Q12
    return t
