# device (a board, or the unix port): the runtime alone, inside your own timer callback -- no app, no log.
#
#   MICROPYPATH=device .venv/bin/micropython examples/timer_callback.py     (unix: simulated ticks)
#   on a board: copy device/tinypolicy/ and models/policy_int8.bin, then run this file (mpremote run ...)
#
# The pattern: allocate every buffer once, load the policy once, and keep the callback to integer work:
# read sensor -> infer_q -> write actuator. An int8 / Q15 policy's infer_q allocates nothing, so the callback may
# be a hard IRQ (rp2: machine.Timer(hard=True)); f32 allocates (floats are heap objects): soft timers only.
from array import array

import micropython

from tinypolicy import Policy

policy = Policy.load("models/policy_int8.bin")
inp = array("i", (0, 0))  # [theta_q12, theta_dot_q12]: Q12 = value * 4096 (rad, rad/s)
out = array("i", (0,))  # [torque_q12]: Q12 N*m, already clamped to policy.out_lo_q[0]..policy.out_hi_q[0]
state = array("i", (12868, 0, 0))  # your sensor's reading; here a fixed test state (pi, 0); [2] = tick count


def read_sensor(buf):
    """Replace with your sensor: fill buf with Q12 theta / theta_dot, integer math only."""
    buf[0] = state[0]
    buf[1] = state[1]


def write_actuator(torque_q12):
    """Replace with your motor driver, e.g. pwm.duty_u16(abs(torque_q12) * 8); here: nothing."""


def on_tick(_timer):
    read_sensor(inp)
    policy.infer_q(inp, out)
    write_actuator(out[0])
    state[2] += 1


try:
    from machine import Timer  # a board: 100 Hz, hard IRQ

    Timer(-1).init(mode=Timer.PERIODIC, period=10, callback=on_tick, hard=True)
    print("running at 100 Hz; Ctrl-C to stop")
except ImportError:  # the unix port has no machine.Timer: call the callback as an IRQ would, heap locked
    for _ in range(100):
        micropython.heap_lock()  # any allocation inside raises MemoryError, as in a hard IRQ
        try:
            on_tick(None)
        finally:
            micropython.heap_unlock()
    print("100 ticks with the heap locked; torque %d Q12 (%.3f N*m) at theta = pi" % (out[0], out[0] / 4096))
