# device: board module for ESP32 (DevKitC / WROOM-32; also S3 with other pins): pins, timer, rig I/O.
"""Flashed as /board.py; the app imports only `board`.

Rig (see README.md beside this file):
- angle: potentiometer or AS5600 magnetic encoder in analog-output mode on GPIO34 (ADC1 channel 6: input
  only, and ADC1 keeps working with Wi-Fi on). Attenuation 11 dB for a 0..3.3 V swing. theta_dot is the
  finite difference over the period, low-pass filtered (alpha = 1/4).
- motor: an H-bridge with a PHASE/ENABLE interface (Pololu DRV8838 / DRV8835 PH/EN mode, Cytron MD10C):
  PWM (LEDC, 20 kHz) on GPIO25, direction on GPIO26.
- timer: machine.Timer(0), hardware timer group 0. The ESP32 port does not run Timer callbacks in the IRQ:
  they are queued with micropython.schedule (queue depth 8) and run soft, between bytecodes of the
  foreground. The step stays allocation-free anyway, and the app's timer wrapper drops a callback that
  arrives while a step runs and skips a queued duplicate of a slot already served.
"""
import micropython
from machine import ADC, PWM, Pin, Timer

from tinypolicy_app.rig import AnalogRig, actuator_off, read_sensor, use, write_actuator  # noqa: F401 (board API)

micropython.alloc_emergency_exception_buf(100)

NAME = "esp32"
TIMER_ID = 0  # hardware timer group 0, timer 0
DEFAULT_PERIOD_MS = 10
TICKER_KIND = "esp32 machine.Timer(0) hardware timer"

PIN_ANGLE_ADC = 34  # ADC1_CH6: potentiometer wiper or AS5600 OUT
PIN_PWM = 25  # H-bridge ENABLE / PWM
PIN_DIR = 26  # H-bridge PHASE / DIR
PWM_FREQ = 20000

ANGLE_ZERO_RAW12 = 2048  # ADC reading (12-bit) with the pendulum upright
ANGLE_SIGN = 1
MOTOR_SIGN = 1
FULL_SCALE_TORQUE_Q12 = 8192  # torque at 100 % duty, Q12 N*m
MAX_TORQUE_Q12 = FULL_SCALE_TORQUE_Q12  # hardware limit the app clamps every command to (Q12 N*m, 1..16384)


def setup(period_ms):
    """Create the rig's peripherals (called by the app once, before the loop); the motor starts stopped."""
    pwm = PWM(Pin(PIN_PWM), freq=PWM_FREQ, duty_u16=0)
    adc = ADC(Pin(PIN_ANGLE_ADC), atten=ADC.ATTN_11DB)
    dir_pin = Pin(PIN_DIR, Pin.OUT, value=0)
    use(AnalogRig(adc, pwm, dir_pin, period_ms, ANGLE_ZERO_RAW12, ANGLE_SIGN, MOTOR_SIGN, FULL_SCALE_TORQUE_Q12))


def make_ticker(alloc_free):
    """(timer, hard): always soft on esp32 (the port schedules Timer callbacks)."""
    return Timer(TIMER_ID), False


def wait(timer):
    """Foreground idle between log drains: a short sleep lets scheduled timer callbacks run promptly."""
    import time

    time.sleep_ms(1)
