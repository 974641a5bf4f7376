# device: the boards' rig I/O (tinypolicy_app.rig.AnalogRig) with stand-in ADC / PWM / Pin objects.
from array import array

from devtest import assert_no_alloc
from tinypolicy_app.rig import FULL_SCALE_MAX_Q12, PI_Q12, TWO_PI_Q12, AnalogRig, wrap_q12


class ADC:
    def __init__(self):
        self.raw12 = 2048

    def read_u16(self):
        return self.raw12 << 4 | 0xA  # the low 4 bits are noise the rig drops


class PWM:
    duty = -1

    def duty_u16(self, d):
        self.duty = d


class Pin:
    level = -1

    def value(self, v):
        self.level = v


def _rig(**kw):
    adc, pwm, pin = ADC(), PWM(), Pin()
    return AnalogRig(adc, pwm, pin, 10, **kw), adc, pwm, pin


def test_starts_with_the_motor_off():
    _, _, pwm, _ = _rig()
    assert pwm.duty == 0


def test_angle_zero_quarter_and_wrap():
    rig, adc, _, _ = _rig(zero_raw12=1000)
    for raw, want in ((1000, 0), (2024, TWO_PI_Q12 // 4), (0, (-1000 * TWO_PI_Q12) >> 12), (3500, 15708 - TWO_PI_Q12)):
        adc.raw12 = raw
        assert rig.angle_q12() == want, (raw, rig.angle_q12(), want)
    adc.raw12 = 2024
    rig_neg = AnalogRig(adc, PWM(), Pin(), 10, 1000, -1)
    assert rig_neg.angle_q12() == -(TWO_PI_Q12 // 4)
    assert wrap_q12(PI_Q12 + 1) == PI_Q12 + 1 - TWO_PI_Q12 and wrap_q12(-PI_Q12) == -PI_Q12


def test_velocity_is_filtered_difference_across_the_wrap():
    rig, adc, _, _ = _rig()
    inp = array("i", (0, 0))
    adc.raw12 = 2048 + 2040  # near +pi
    rig.read(inp)
    assert inp[1] == 0  # first reading: no difference yet
    adc.raw12 = 2048 - 2040  # across the wrap to near -pi: a small positive step, not a whole turn back
    rig.read(inp)
    step = rig.angle_q12() - (2040 * TWO_PI_Q12 >> 12) + TWO_PI_Q12
    assert 0 < step < 200
    assert inp[1] == (step * 1000 // 10) >> 2  # alpha = 1/4 of the new finite difference (Q12 rad/s)


def test_torque_to_duty_and_direction():
    rig, _, pwm, pin = _rig(full_scale_torque_q12=4096)
    for torque, duty, level in ((2048, 32767, 0), (-2048, 32767, 1), (8192, 65535, 0), (-9000, 65535, 1), (0, 0, 0)):
        rig.write(torque)
        assert (pwm.duty, pin.level) == (duty, level), torque
    flipped, _, pwm, pin = _rig(motor_sign=-1)
    flipped.write(4096)
    assert (pwm.duty, pin.level) == (32767, 1)
    flipped.off()
    assert pwm.duty == 0


def test_calibration_is_checked_at_construction_naming_the_parameter():
    bad = (("period_ms", 0), ("period_ms", -10), ("period_ms", 10.0), ("zero_raw12", -1), ("zero_raw12", 4096),
           ("zero_raw12", 2048.5), ("angle_sign", 0), ("angle_sign", 2), ("angle_sign", 1.0), ("motor_sign", 0),
           ("motor_sign", -2), ("full_scale_torque_q12", 0), ("full_scale_torque_q12", -8192),
           ("full_scale_torque_q12", FULL_SCALE_MAX_Q12 + 1), ("full_scale_torque_q12", 8192.0))
    for name, value in bad:
        kw = {name: value}
        period = kw.pop("period_ms", 10)
        try:
            AnalogRig(ADC(), PWM(), Pin(), period, **kw)
        except ValueError as exc:
            msg = str(exc)
            assert msg.startswith("AnalogRig: %s = " % name), msg
            continue
        raise AssertionError("accepted %s = %r" % (name, value))
    for zero in (0, 4095):  # the edges are fine
        AnalogRig(ADC(), PWM(), Pin(), 1, zero, -1, -1, FULL_SCALE_MAX_Q12)
    AnalogRig(ADC(), PWM(), Pin(), 1, full_scale_torque_q12=1)


def test_huge_torque_saturates_without_allocating():
    rig, _, pwm, pin = _rig(full_scale_torque_q12=FULL_SCALE_MAX_Q12)
    # [torque, duty, level] x 4 in one array: a closure over more than 5 values allocates its call frame
    io = array("i", (10**6, 0, 0, -(10**6), 0, 0, FULL_SCALE_MAX_Q12 - 1, 0, 0, 1 - FULL_SCALE_MAX_Q12, 0, 0))

    def tick():
        for k in range(0, 12, 3):
            rig.write(io[k])
            io[k + 1] = pwm.duty
            io[k + 2] = pin.level

    rig.write(0)
    assert_no_alloc(tick)
    duties = [io[k] for k in range(1, 12, 3)]
    levels = [io[k] for k in range(2, 12, 3)]
    near = (FULL_SCALE_MAX_Q12 - 1) * 65535 // FULL_SCALE_MAX_Q12
    assert duties == [65535, 65535, near, near], duties
    assert levels == [0, 1, 0, 1], levels
    # x64 small ints hold 62 bits, so the heap lock above cannot see a 32-bit overflow: check the bound itself.
    # write() multiplies only when |t| < full scale <= FULL_SCALE_MAX_Q12.
    assert (FULL_SCALE_MAX_Q12 - 1) * 65535 < 1 << 30
    flipped, _, pwm, pin = _rig(motor_sign=-1, full_scale_torque_q12=1)
    flipped.write(-(10**6))
    assert (pwm.duty, pin.level) == (65535, 0)


def test_tick_side_allocates_nothing():
    rig, adc, _, _ = _rig()
    inp = array("i", (0, 0))
    rig.read(inp)
    rig.write(100)

    def tick():
        for raw in (100, 4000, 2048):
            adc.raw12 = raw
            rig.read(inp)
            rig.write(inp[0])

    assert_no_alloc(tick)


def test_board_api_functions_drive_the_rig_in_use():
    from tinypolicy_app import rig as rig_module

    r, adc, pwm, pin = _rig(zero_raw12=0)
    rig_module.use(r)
    inp = array("i", (0, 0))
    adc.raw12 = 1024  # a quarter turn from zero
    rig_module.read_sensor(inp)
    assert inp[0] == TWO_PI_Q12 // 4
    rig_module.write_actuator(-4096)
    assert (pwm.duty, pin.level) == (32767, 1)
    rig_module.actuator_off()
    assert pwm.duty == 0
    rig_module.use(None)
    rig_module.actuator_off()  # no rig: nothing to stop, no error
