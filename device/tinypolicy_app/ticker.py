# device: software periodic timer with machine.Timer's interface, for ports without machine.Timer (unix).
"""`Timer(id).init(mode=Timer.PERIODIC, period=ms, callback=cb, hard=...)` / `deinit()` like machine.Timer,
driven by time.ticks_us against an absolute schedule: deadline k = start + k * period, so jitter never
accumulates into drift. There is no interrupt on the unix port, so the foreground must give the timer the CPU:
`poll()` sleeps until the next deadline (time.sleep_us, then a short spin for the last SPIN_US) and runs the
callback once. A deadline that has already passed by a whole period or more is skipped (counted in `missed`),
never run back to back, so the callback is never re-entered or bunched.

hard=True emulates a hard IRQ: the heap is locked around the callback (micropython.heap_lock), so a callback
that allocates fails here exactly as it would in a hard ISR on rp2.
"""
import time

import micropython

SPIN_US = 300  # busy-wait the last part of the wait: sleep_us overshoots by ~50-100 us on Linux


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kwargs):
        self.id = id
        self._cb = None
        self._active = False
        self._hard = False
        self._period_us = 0
        self._mode = self.PERIODIC
        self._next = time.ticks_us()
        self.missed = 0  # deadlines skipped because the foreground came back too late
        self.fired = 0
        if kwargs:
            self.init(**kwargs)

    def init(self, mode=PERIODIC, period=-1, freq=-1, callback=None, hard=False, tick_hz=1000):
        if freq > 0:
            period_us = 1000000 // freq
        elif period > 0:
            period_us = period * 1000000 // tick_hz
        else:
            raise ValueError("period or freq required")
        self._period_us = period_us
        self._mode = mode
        self._cb = callback
        self._hard = bool(hard)
        self._next = time.ticks_add(time.ticks_us(), period_us)
        self._active = True

    def deinit(self):
        self._active = False
        self._cb = None

    def active(self):
        return self._active

    def poll(self, max_wait_us=1000000):
        """Wait for the next deadline (at most max_wait_us) and fire the callback once when it is due.
        Returns True when the callback ran."""
        if not self._active:
            return False
        d = time.ticks_diff(self._next, time.ticks_us())
        if d > max_wait_us:
            time.sleep_us(max_wait_us)
            return False
        if d > SPIN_US:
            time.sleep_us(d - SPIN_US)
        while time.ticks_diff(self._next, time.ticks_us()) > 0:
            pass
        late = time.ticks_diff(time.ticks_us(), self._next)
        if late >= self._period_us:  # skip whole periods we could not serve
            skip = late // self._period_us
            self.missed += skip
            self._next = time.ticks_add(self._next, skip * self._period_us)
        self._next = time.ticks_add(self._next, self._period_us)
        if self._mode == self.ONE_SHOT:
            self._active = False
        cb = self._cb
        if cb is not None:
            self.fired += 1
            if self._hard:
                micropython.heap_lock()
                try:
                    cb(self)
                finally:
                    micropython.heap_unlock()
            else:
                cb(self)
        return True
