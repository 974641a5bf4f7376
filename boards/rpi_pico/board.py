# device: board module for the Raspberry Pi Pico / Pico W (RP2040) and Pico 2 (RP2350): pins, timer, rig I/O.
"""Flashed as /board.py; the app imports only `board`.

Rig (see README.md beside this file):
- angle: potentiometer or AS5600 magnetic encoder in analog-output mode (OUT pin, 0..VDD over one turn) on
  ADC0 = GP26. An ADC read is IRQ-safe (a few us), unlike an I2C transaction, so the whole tick can run in a
  hard IRQ. theta_dot is the finite difference over the period, low-pass filtered (alpha = 1/4).
- motor: an H-bridge with a PHASE/ENABLE (direction + PWM) interface, e.g. Pololu DRV8838 / DRV8835 (PH/EN
  mode) or Cytron MD10C: PWM (20 kHz, inaudible) on GP16, direction on GP17.
- timer: machine.Timer(-1), a virtual timer on the 1 us hardware alarm (no drift). hard=True (callback in
  the timer IRQ) on MicroPython >= 1.26 when the policy is allocation-free (int8, q15); otherwise soft.
"""
import sys

import micropython
from machine import ADC, PWM, Pin, Timer, idle

from tinypolicy_app.rig import AnalogRig, actuator_off, read_sensor, use, write_actuator  # noqa: F401 (board API)

micropython.alloc_emergency_exception_buf(100)

NAME = "rpi_pico"
TIMER_ID = -1  # virtual timer
DEFAULT_PERIOD_MS = 10
TICKER_KIND = "rp2 machine.Timer(-1) virtual timer"

PIN_ANGLE_ADC = 26  # ADC0: potentiometer wiper or AS5600 OUT
PIN_PWM = 16  # H-bridge ENABLE / PWM
PIN_DIR = 17  # H-bridge PHASE / DIR
PWM_FREQ = 20000

# Calibration: ADC reading (12-bit, 0..4095) when the pendulum is upright, and +1/-1 so that theta grows
# counter-clockwise like the model's. MOTOR_SIGN flips the torque direction if the motor is wired reversed.
ANGLE_ZERO_RAW12 = 2048
ANGLE_SIGN = 1
MOTOR_SIGN = 1
# Torque (Q12 N*m) that 100 % duty produces on the real rig; the model's range is +-2 N*m = +-8192.
FULL_SCALE_TORQUE_Q12 = 8192
MAX_TORQUE_Q12 = FULL_SCALE_TORQUE_Q12  # hardware limit the app clamps every command to (Q12 N*m, 1..16384)


def setup(period_ms):
    """Create the rig's peripherals (called by the app once, before the loop); the motor starts stopped."""
    pwm = PWM(Pin(PIN_PWM), freq=PWM_FREQ, duty_u16=0)
    adc = ADC(Pin(PIN_ANGLE_ADC))
    dir_pin = Pin(PIN_DIR, Pin.OUT, value=0)
    use(AnalogRig(adc, pwm, dir_pin, period_ms, ANGLE_ZERO_RAW12, ANGLE_SIGN, MOTOR_SIGN, FULL_SCALE_TORQUE_Q12))


def make_ticker(alloc_free):
    """(timer, hard): hard IRQ callbacks need MicroPython >= 1.26 on rp2 and an allocation-free step."""
    hard = bool(alloc_free) and tuple(sys.implementation.version[:2]) >= (1, 26)
    return Timer(TIMER_ID), hard


def wait(timer):
    """Foreground idle between log drains: sleep until the next interrupt (timer, USB)."""
    idle()
