# device: the whole control step (sensor -> noise -> policy -> actuator -> plant -> ring) and the timer
# callback under micropython.heap_lock(). Own file (own process): a 128K heap holds the package compiled from
# source plus one test module, not all of them.
import gc
import time

from devtest import assert_no_alloc
from tinypolicy_app.logger import FLAG_MISSED, FLAG_SAFE, Ring
from tinypolicy_app.loop import ControlLoop
from tinypolicy_app.plant import Pendulum, to_q20
from tinypolicy_app.sensors import Noise, PlantSensor


class FakePolicy:
    """Allocation-free stand-in: a PD law in Q12 (torque = -2 theta - theta_dot / 2, clamped)."""

    dtype = "int8"

    def infer_q(self, inp, out):
        u = -2 * inp[0] - (inp[1] >> 1)
        if u > 8192:
            u = 8192
        elif u < -8192:
            u = -8192
        out[0] = u


def _loop(policy=None, noise=0.0, theta=3.14159, period_ms=10, ring=64):
    from tinypolicy_app.actuators import SimActuator

    plant = Pendulum(to_q20(theta), 0, period_ms)
    nz = Noise(noise, noise, 7) if noise else None
    return ControlLoop(policy, PlantSensor(plant, nz), SimActuator(plant), plant, Ring(ring), period_ms)


def _real_policy():
    from tinypolicy import Policy

    gc.collect()
    return Policy.load("models/policy_int8.bin")


def test_whole_step_allocates_nothing_fake_policy():
    lp = _loop(FakePolicy(), noise=0.01)
    lp.step(0, 0, 0)  # first call outside the lock (lazy init anywhere would show up here, not below)
    k = 1
    while k < 50:
        assert_no_alloc(lambda: lp.step(k, k * 10000, 3))
        k += 1
    assert lp.steps == 50 and lp.ring.pending() == 50 and lp.ring.dropped == 0  # ring of 64 holds them all


def test_whole_step_allocates_nothing_int8_policy():
    policy = _real_policy()
    lp = _loop(policy, noise=0.01)
    lp.step(0, 0, 0)
    k = 1
    while k < 40:
        assert_no_alloc(lambda: lp.step(k, k * 10000, 0))
        k += 1
    lp.ring.drain(lambda line: None)
    assert lp.steps == 40


def test_timer_callback_allocates_nothing_and_counts_missed_slots():
    lp = _loop(FakePolicy())
    lp.start_schedule(-1)
    lp.next_us = time.ticks_add(time.ticks_us(), -33000)  # 3.3 periods late
    assert_no_alloc(lambda: lp.on_timer(None))
    assert lp.missed == 3, lp.missed
    assert lp.last_tick == 3 and lp.slot == 4
    lines = []
    lp.ring.drain(lines.append)
    f = int(lines[0].split(",")[-1])
    assert f & FLAG_MISSED, lines
    # a duplicate for a slot already served (queued soft callback) is ignored
    lp.on_timer(None)
    assert lp.steps == 1


def test_safe_state_gives_zero_torque():
    lp = _loop(None)
    for k in range(3):
        lp.step(k, 0, 0)
    lines = []
    lp.ring.drain(lines.append)
    for ln in lines:
        f = ln.split(",")
        assert f[4] == "0.0000" and int(f[8]) & FLAG_SAFE, ln
