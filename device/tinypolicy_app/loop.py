# device: the control step (sensor -> noise -> policy -> actuator -> plant -> log ring) and its timer wrapper.
"""`ControlLoop.step(tick, t_us, lateness_us)` is one control tick as a plain method of preallocated state: tests
call it directly, batch mode calls it in a loop, and `on_timer` (the machine.Timer callback) wraps it with the
schedule bookkeeping. Neither allocates (int8 / q15 policies): no floats, no new objects, only small ints
(every value < 2^30, so 32-bit ports stay allocation-free too). An f32 policy allocates inside infer_q, so f32
runs only from a soft (scheduled) timer or in batch mode, never under a hard IRQ or heap lock.

Buffers:
- inp: array('i') [theta_q12, theta_dot_q12]: what the sensor (with noise) gives the policy, Q12.
- out: array('i') [torque_q12]: policy output, Q12 N*m (within the model's declared range); the step clamps it
  again to +-max_torque_q12 (the app passes min(board hardware limit, declared hi)) before the actuator.
- plant.st: array('i') [theta_q20, theta_dot_q20]: true simulated state, Q20 (see plant.py).
- infer_hist, late_hist: Hist, 1024 1-us bins each (the last bin collects everything above), 4 KB each in
  1 KB chunks.

No buffer here is larger than 1 KB (ring: one array per column): after imports and the model load the heap of
a 128 KB board is fragmented (on the unix port at 128K: 73 KB free, largest free block 2 KB), so big
contiguous buffers fail where several small ones fit.
"""
import time
from array import array

from micropython import const

from tinypolicy_app.logger import FLAG_BAD_INPUT, FLAG_MISSED, FLAG_OVERRUN, FLAG_SAFE, FLAG_SAT
from tinypolicy_app.sensors import INPUT_LIMIT_Q12

# What a sensor's read raises when it computes in floats and gets NaN / inf: int(nan) ValueError, int(inf)
# OverflowError, a float stored into array('i') TypeError. A module-level tuple: `except (A, B)` would build the
# tuple (allocate) inside the tick.
_BAD_READING = (ValueError, TypeError, OverflowError)

HIST_BINS = const(1024)
_CHUNK_SHIFT = const(8)  # 256 bins (1 KB) per chunk
_CHUNK_MASK = const(255)
T_WRAP = const(0x3FFFFFFF)  # t_us wraps at 2^30 like time.ticks_us
UPRIGHT_Q20 = const(104858)  # 0.1 rad: |theta| below counts as upright

def tadd(a, b):
    """(a + b) mod 2^30 for a, b in [0, 2^30) without an intermediate >= 2^30: on 32-bit ports small ints end
    at 2^30 - 1 and a larger value would allocate a long int inside the tick."""
    s = (a - T_WRAP) + b
    return s - 1 if s > 0 else s + T_WRAP


_ticks_us = time.ticks_us
_ticks_diff = time.ticks_diff
_ticks_add = time.ticks_add


class Hist:
    """1-us histogram of HIST_BINS bins (last bin: everything above), in 1 KB chunks. add() allocates nothing."""

    def __init__(self):
        self.parts = [array("i", bytes(4 << _CHUNK_SHIFT)) for _ in range(HIST_BINS >> _CHUNK_SHIFT)]
        self.max = 0
        self.n = 0

    def clear(self):
        for part in self.parts:
            for i in range(len(part)):
                part[i] = 0
        self.max = self.n = 0

    def add(self, v):
        if v > self.max:
            self.max = v
        if v >= HIST_BINS:
            v = HIST_BINS - 1
        elif v < 0:
            v = 0
        self.parts[v >> _CHUNK_SHIFT][v & _CHUNK_MASK] += 1
        self.n += 1

    def percentile(self, p):
        """Smallest bin with at least p % of the samples at or below it (foreground); -1 when empty."""
        if self.n == 0:
            return -1
        want = (self.n * p + 99) // 100
        acc = 0
        for k in range(len(self.parts)):
            part = self.parts[k]
            for i in range(len(part)):
                acc += part[i]
                if acc >= want:
                    return (k << _CHUNK_SHIFT) + i
        return HIST_BINS - 1

    def median(self):
        return self.percentile(50)


class ControlLoop:
    def __init__(self, policy, sensor, actuator, plant, ring, period_ms, decimation=1, max_torque_q12=8192):
        self.ring = ring
        self.period_ms = period_ms
        self.period_us = period_ms * 1000
        self.decimation = decimation
        self.inp = array("i", (0, 0))
        self.out = array("i", (0,))
        self.infer_hist = Hist()
        self.late_hist = Hist()
        self.steps = 0  # steps run
        self.bad_inputs = 0  # ticks whose sensor reading was invalid (zero torque)
        self.overruns = 0  # steps longer than the period
        self.missed = 0  # schedule slots skipped
        self.pending_flags = 0
        self.last_not_upright = -1  # last tick with |theta| >= 0.1 rad
        self.last_tick = -1
        self.stop_tick = -1  # on_timer stops stepping at this slot (-1: never)
        self.done = False
        self.busy = False
        self.reentries = 0
        self.fault = None  # exception raised inside on_timer (reported by the foreground)
        # realtime schedule (on_timer)
        self.slot = 0
        self.next_us = _ticks_us()
        self.t_sched = 0
        self.attach(policy, sensor, actuator, plant, max_torque_q12)

    def attach(self, policy, sensor, actuator, plant, max_torque_q12=8192):
        """Set the stages (the app allocates the loop's buffers first, then loads the model)."""
        self.policy = policy  # None: safe state, zero torque
        self.sensor = sensor
        self.actuator = actuator
        self.plant = plant  # None with a real rig (sensor 'board') or in open-loop replay
        self.max_torque = max_torque_q12
        self.safe = FLAG_SAFE if policy is None else 0

    # -- the control step ------------------------------------------------------------------------------------
    def step(self, tick, t_us, lateness_us):
        """One control tick. Allocation-free for int8/q15 policies."""
        inp = self.inp
        out = self.out
        try:
            self.sensor.read(inp)
            ok = -INPUT_LIMIT_Q12 < inp[0] < INPUT_LIMIT_Q12 and -INPUT_LIMIT_Q12 < inp[1] < INPUT_LIMIT_Q12
        except _BAD_READING:  # a non-finite value from the sensor
            ok = False
        if not ok:  # invalid reading: zero torque this tick, counted, flagged in the row, logged as 0
            inp[0] = 0
            inp[1] = 0
            self.bad_inputs += 1
        t0 = _ticks_us()
        if self.policy is not None and ok:
            self.policy.infer_q(inp, out)
        else:
            out[0] = 0
        infer_us = _ticks_diff(_ticks_us(), t0)
        torque = out[0]
        mt = self.max_torque  # the board's hardware limit (and the declared range, which the runtime already keeps)
        if torque > mt:
            torque = mt
        elif torque < -mt:
            torque = -mt
        self.actuator.write(torque)
        plant = self.plant
        if plant is not None:
            st = plant.st
            theta = st[0]
            theta_dot = st[1]
            plant.step()
        else:
            theta = inp[0] << 8  # no plant: log what the sensor read (Q12 -> Q20)
            theta_dot = inp[1] << 8
        # statistics (ints only)
        self.infer_hist.add(infer_us)
        self.late_hist.add(lateness_us)
        if theta >= UPRIGHT_Q20 or theta <= -UPRIGHT_Q20 or not ok:
            self.last_not_upright = tick
        self.last_tick = tick
        self.steps += 1
        flags = self.pending_flags | self.safe
        self.pending_flags = 0
        if not ok:
            flags |= FLAG_BAD_INPUT
        if torque >= self.max_torque or torque <= -self.max_torque:
            flags |= FLAG_SAT
        if tick % self.decimation == 0:
            self.ring.record(tick, t_us, theta, theta_dot, torque, infer_us, lateness_us,
                             self.overruns + self.missed, flags)

    # -- realtime: the timer callback ------------------------------------------------------------------------
    def start_schedule(self, stop_tick=-1):
        """Call right before starting the timer: slot 0 is due one period from now."""
        self.slot = 0
        self.t_sched = 0
        self.stop_tick = stop_tick
        self.next_us = _ticks_add(_ticks_us(), self.period_us)

    def on_timer(self, _timer):
        """machine.Timer callback (hard IRQ on rp2, scheduled on esp32, polled on unix). Works out which
        schedule slot is due, counts skipped slots, runs the step once, measures its duration. Never
        re-entered: a callback arriving while a step runs (soft timers) is counted and dropped, and a late
        duplicate for an already-served slot (queued soft callbacks) is ignored."""
        if self.busy:
            self.reentries += 1
            return
        if self.done:
            return
        self.busy = True
        now = _ticks_us()
        late = _ticks_diff(now, self.next_us)
        period = self.period_us
        if late < -(period >> 2):  # early: a queued duplicate (soft timers), its slot was already served
            self.busy = False
            return
        if late >= period:
            skip = late // period
            self.missed += skip
            self.slot += skip
            self.t_sched = tadd(self.t_sched, skip * period)
            self.next_us = _ticks_add(self.next_us, skip * period)
            late -= skip * period
            self.pending_flags |= FLAG_MISSED
        slot = self.slot
        if self.stop_tick >= 0 and slot >= self.stop_tick:
            self.done = True
            self.busy = False
            return
        try:
            self.step(slot, tadd(self.t_sched, late), late)
        except Exception as exc:  # noqa: BLE001 - in an IRQ nobody else can: motor off, stop, report later
            self.fault = exc
            self.done = True
            self.actuator.off()
        self.slot = slot + 1
        self.t_sched = tadd(self.t_sched, period)
        self.next_us = _ticks_add(self.next_us, period)
        if _ticks_diff(_ticks_us(), now) > period:
            self.overruns += 1
            self.pending_flags |= FLAG_OVERRUN
        self.busy = False

    # -- batch: simulated time -------------------------------------------------------------------------------
    def batch_step(self):
        """Step the next slot at simulated time (lateness 0)."""
        slot = self.slot
        self.step(slot, self.t_sched, 0)
        self.slot = slot + 1
        self.t_sched = tadd(self.t_sched, self.period_us)

    def safe_off(self):
        self.policy = None
        self.safe = FLAG_SAFE
        self.actuator.off()
