# device (Raspberry Pi Pico / Pico 2, MicroPython >= 1.26): the policy balancing a real pendulum rig.
#
# Wiring (the same as boards/rpi_pico, see boards/README.md):
#   angle sensor  potentiometer wiper, or an AS5600 magnetic encoder's OUT pin (analog mode, 0..3V3 over a turn)
#                 -> GP26 (ADC0); sensor VCC -> 3V3(OUT), GND -> AGND
#   H-bridge      PHASE/ENABLE driver (Pololu DRV8838 / DRV8835 in PH/EN mode, Cytron MD10C):
#                 ENABLE/PWM -> GP16, PHASE/DIR -> GP17, driver logic VCC -> 3V3, GND -> GND;
#                 motor supply on the driver's VM/VIN (not from the Pico), common ground
#   calibration   hold the pendulum upright, read `adc.read_u16() >> 4` in the REPL: that is ZERO_RAW12.
#                 If theta grows clockwise, set ANGLE_SIGN = -1; if the motor pushes the wrong way, MOTOR_SIGN = -1.
#
# Copy device/tinypolicy/, device/tinypolicy_app/ and models/policy_int8.bin to the board, then run this file
# (`mpremote run examples/pico_rig.py`). Ctrl-C stops the timer and switches the motor off.
# This example is type-checked against the rp2 stubs by the test suite; it needs real hardware to run.
import time
from array import array

from machine import ADC, PWM, Pin, Timer

from tinypolicy import Policy
from tinypolicy_app.rig import AnalogRig

PERIOD_MS = 10
ZERO_RAW12 = 2048  # ADC reading (12 bit) with the pendulum upright
ANGLE_SIGN = 1
MOTOR_SIGN = 1
FULL_SCALE_TORQUE_Q12 = 8192  # torque (Q12 N*m) at 100 % duty on your rig; the policy's range is +-2 N*m

policy = Policy.load("models/policy_int8.bin")
rig = AnalogRig(ADC(Pin(26)), PWM(Pin(16), freq=20000, duty_u16=0), Pin(17, Pin.OUT, value=0), PERIOD_MS,
                ZERO_RAW12, ANGLE_SIGN, MOTOR_SIGN, FULL_SCALE_TORQUE_Q12)
inp = array("i", (0, 0))  # Q12 theta (0 = upright), theta_dot
out = array("i", (0,))  # Q12 torque
ticks = array("i", (0,))


def on_tick(_timer):
    """Hard IRQ: ADC read, int8 inference, PWM write -- all allocation-free."""
    rig.read(inp)
    policy.infer_q(inp, out)
    rig.write(out[0])
    ticks[0] += 1


timer = Timer(-1)
timer.init(mode=Timer.PERIODIC, period=PERIOD_MS, callback=on_tick, hard=True)
try:
    while True:
        time.sleep(1)
        print("ticks %d theta %d torque %d (Q12)" % (ticks[0], inp[0], out[0]))
finally:
    timer.deinit()
    rig.off()
