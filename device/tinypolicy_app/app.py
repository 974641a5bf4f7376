# device: the control application: config -> model -> stages -> warm-up -> realtime or batch loop -> summary.
"""Run by main.py as `app.main(board, argv, here)`; `board` is the board module chosen at deploy time
(boards/<name>/board.py flashed as /board.py; boards/unix on the unix port).

Error policy (what the device does instead of crashing):
- invalid config value (file or flag value): `# error: config: key: ... (allowed: ...)`, the key keeps its
  default, and the loop runs in the **safe state**: zero torque (flag 4), log stream alive. The same for a config
  file that is not valid JSON, and for one given with --config that cannot be read (missing, a directory); a
  missing config.json beside main.py is not an error (defaults and flags).
- model missing / corrupt / dtype mismatch / runtime missing: `# error: model: ...`, safe state as above.
- sensor or actuator 'board' on a board module without a rig: error, falls back to the simulated plant, safe.
- unix command-line usage mistakes (unknown flag, missing or empty value): `# error: ...` and exit status 2,
  nothing runs.
- open-loop replay without a readable input file (missing, a FIFO, a bad line anywhere in it: the file is checked
  whole, then streamed): `# error:` naming path:line and exit status 1 (nothing to replay).
- a sensor reading that is invalid (out of range, or non-finite: the read raises): zero torque on that tick, flag 32,
  counted (`bad_inputs=` in the summary, a rate-limited warning), the loop goes on.
- MemoryError during start-up: one `# error: memory: ...` line; the motor stays off (config: safe state, loop runs).
- every torque command is clamped to +-min(board.MAX_TORQUE_Q12, the model's declared hi) before the actuator; a
  board module whose MAX_TORQUE_Q12 is not an int 1..16384: `# error: board: ...`, safe state.
On the unix port the exit status is 1 when the run was in the safe state, else 0.
"""
import time

import micropython

from tinypolicy_app import config
from tinypolicy_app.actuators import BoardActuator, NullActuator, SimActuator, torque_limit
from tinypolicy_app.files import not_regular, resolve
from tinypolicy_app.logger import HEADER, Messages, Ring, write_line
from tinypolicy_app.loop import HIST_BINS, ControlLoop
from tinypolicy_app.plant import Pendulum, to_q20
from tinypolicy_app.sensors import BoardSensor, Noise, PlantSensor


def text_of(exc):
    """An exception's message for a one-line report: its first argument, else its type (UnicodeError() and a
    MemoryError raised with the heap locked have no arguments)."""
    return str(exc.args[0]) if exc.args else type(exc).__name__


def fmt_ms(ms):
    return "%d.%03d" % (ms // 1000, ms % 1000)


def load_policy(cfg, here, msgs):
    """Returns (policy or None, path, error text or None)."""
    dtype = cfg["dtype"]
    path = cfg["model"] or "models/policy_%s.bin" % ("int8" if dtype == "auto" else dtype)
    path = resolve(path, here)
    kind = not_regular(path)
    if kind:  # a FIFO would block the loader's open() forever
        return None, path, "model: %s: %s, not a model file" % (path, kind)
    try:
        from tinypolicy import ModelError, Policy
    except ImportError as exc:
        return None, path, "model: device runtime unavailable (%s)" % exc
    try:
        policy = Policy.load(path)
    except OSError as exc:
        return None, path, "model: %s: cannot open (%s)" % (path, exc)
    except ModelError as exc:  # its text starts with the path and names the field
        return None, path, "model: %s" % exc
    except MemoryError:
        return None, path, "model: %s: does not fit in the heap" % path
    if dtype != "auto" and policy.dtype != dtype:
        return None, path, "dtype: config asks for %r but %s holds %r" % (dtype, path, policy.dtype)
    if policy.in_frac != (12, 12) or policy.out_frac != (12,) or policy.argmax:
        return None, path, ("model: %s: not a pendulum policy (needs inputs theta, theta_dot in Q12 -> one torque "
                            "in Q12; it has %d inputs Q%s -> %d outputs Q%s)" % (
                                path, policy.n_inputs, policy.in_frac, policy.n_outputs, policy.out_frac))
    return policy, path, None


def warm_up(policy, inp, out, n, msgs, hist):
    """n inferences before the loop; reports the first (cold), the median (1-us bins, as in the summary) and the
    maximum of the rest (warm). The times go into `hist` (the loop's infer_hist, emptied again afterwards): no
    buffer sized by n, which would not fit a fragmented 128K heap for the larger allowed values."""
    if policy is None or n <= 0:
        msgs.info("warmup skipped")
        return
    cold = 0
    try:
        for k in range(n):
            t0 = time.ticks_us()
            policy.infer_q(inp, out)
            dt = time.ticks_diff(time.ticks_us(), t0)
            if k:
                hist.add(dt)
            else:
                cold = dt
        warm, warm_max = (hist.median(), hist.max) if hist.n else (cold, cold)
        msgs.info("warmup n=%d cold_us=%d warm_us=%s warm_max_us=%d torque_q12=%d" % (
            n, cold, _us(warm), warm_max, out[0]))
    finally:
        hist.clear()


class Reporter:
    """Foreground: drains the ring and reports counter changes as warnings, at most one per counter per second
    of control time (counts are cumulative, so a held-back change shows in the next message and the summary)."""

    REPORT_EVERY_MS = 1000

    def __init__(self, loop, ring, msgs, out, extra=None):
        self.loop, self.ring, self.msgs, self.out, self.extra = loop, ring, msgs, out, extra
        self.seen = [0, 0, 0, 0, 0]  # overruns, missed, dropped, reentries, bad inputs at their last report
        self.next_ms = [0, 0, 0, 0, 0]  # control time (ms) from which each counter may be reported again

    def pump(self, limit=-1):
        n = self.ring.drain(self.out, limit, self.extra)
        lp = self.loop
        now_ms = lp.last_tick * lp.period_ms
        if self._due(0, lp.overruns, now_ms):
            self.msgs.warn("overrun: %d steps took longer than the period (last at tick %d)" % (
                lp.overruns, lp.last_tick))
        if self._due(1, lp.missed, now_ms):
            self.msgs.warn("missed: %d schedule slots skipped (last before tick %d)" % (lp.missed, lp.last_tick))
        if self._due(2, self.ring.dropped, now_ms):
            self.msgs.warn("log: %d rows dropped, ring full (raise ring or decimation)" % self.ring.dropped)
        if self._due(3, lp.reentries, now_ms):
            self.msgs.warn("timer: %d callbacks arrived during a step and were dropped" % lp.reentries)
        if self._due(4, getattr(lp, "bad_inputs", 0), now_ms):
            self.msgs.warn("sensor: %d invalid readings (non-finite or out of range): zero torque on those ticks "
                           "(last at tick %d)" % (lp.bad_inputs, lp.last_tick))
        return n

    def _due(self, k, count, now_ms):
        if count == self.seen[k] or now_ms < self.next_ms[k]:
            return False
        self.seen[k] = count
        self.next_ms[k] = now_ms + self.REPORT_EVERY_MS
        return True


LINK_EVERY = 64  # batch mode reads the link every this many steps


def run_batch(loop, n_ticks, lock, rep, link=None):
    """Same step as fast as possible with simulated time; heap locked around each step when the policy is
    allocation-free (an allocation raises MemoryError: the heap-lock guarantee holds in every batch run).
    A streamed sensor (replay) is refilled between steps (`fill`, foreground). Returns False when stopped by a
    stop request on the link."""
    k = 0
    fill = getattr(loop.sensor, "fill", None)
    while (n_ticks < 0 or k < n_ticks) and not loop.sensor.done:
        if fill is not None:
            fill()
        if link is not None and k % LINK_EVERY == 0 and link.stop_requested():
            return False
        if lock:
            micropython.heap_lock()
            try:
                loop.batch_step()
            finally:
                micropython.heap_unlock()
        else:
            loop.batch_step()
        rep.pump()
        k += 1
    return True


def run_realtime(board, loop, n_ticks, alloc_free, rep, msgs, link=None):
    timer, hard = board.make_ticker(alloc_free)
    msgs.info("ticker: %s, %s callback, period %d ms" % (
        board.TICKER_KIND, "hard (allocation-free, heap locked)" if hard else "soft (scheduled)", loop.period_ms))
    loop.start_schedule(n_ticks)
    timer.init(mode=timer.PERIODIC, period=loop.period_ms, callback=loop.on_timer, hard=hard)
    # watchdog: a timer that stopped calling back (e.g. disabled after an exception in a hard IRQ)
    stall_us = 100 * loop.period_us if loop.period_us * 100 < 2000000 else 2000000
    seen, since = -1, time.ticks_us()
    try:
        while not loop.done and not loop.sensor.done:
            rep.pump(8)
            if link is not None and link.stop_requested():
                break
            if rep.ring.pending() == 0:
                board.wait(timer)
            if loop.steps != seen:
                seen, since = loop.steps, time.ticks_us()
            elif time.ticks_diff(time.ticks_us(), since) > stall_us:
                msgs.error("timer: no tick for %d ms, stopping" % (stall_us // 1000))
                return False
    finally:
        timer.deinit()
        loop.actuator.off()
    if loop.fault is not None:
        msgs.error("tick %d raised %r: motor off, loop stopped" % (loop.last_tick + 1, loop.fault))
        return False
    return True


def _us(v):
    """A histogram statistic: the last bin means 'at least'."""
    return ">=%d" % v if v >= HIST_BINS - 1 else "%d" % v


def summary(loop, ring, cfg, msgs, realtime, stray=0):
    lp = loop
    if lp.last_tick < 0:
        upright = "none"
    elif lp.last_not_upright < lp.last_tick:
        upright = fmt_ms((lp.last_not_upright + 1) * lp.period_ms)
    else:
        upright = "none"
    msgs.emit("info",
        "summary ticks=%d steps=%d overruns=%d missed=%d dropped=%d reentries=%d upright_at_s=%s "
        "infer_us_median=%s infer_us_p99=%s infer_us_max=%d lateness_us_median=%s lateness_us_p99=%s "
        "lateness_us_max=%d mode=%s period_ms=%d safe=%d bad_inputs=%d stray_ctrl_c=%d" % (
            lp.last_tick + 1, lp.steps, lp.overruns, lp.missed, ring.dropped, lp.reentries, upright,
            _us(lp.infer_hist.median()), _us(lp.infer_hist.percentile(99)), lp.infer_hist.max,
            _us(lp.late_hist.median()), _us(lp.late_hist.percentile(99)), lp.late_hist.max,
            "realtime" if realtime else "batch", lp.period_ms, 1 if lp.safe else 0, lp.bad_inputs, stray), True)


def build_stages(board, cfg, here, msgs, have_policy):
    """Sensor, actuator, plant (or None) and the replay output hook for the config. Returns
    (sensor, actuator, plant, extra, out_file, fell_back) or None when there is nothing to run."""
    plant = None
    extra = None
    out_file = None
    fell_back = False
    period_ms = cfg["period_ms"]
    sensor_kind = cfg["sensor"]
    actuator_kind = cfg["actuator"] or ("board" if sensor_kind == "board" else "sim")
    if sensor_kind == "board" or actuator_kind == "board":
        if getattr(board, "read_sensor", None) is None or getattr(board, "write_actuator", None) is None:
            msgs.error("sensor/actuator: board %s has no rig (read_sensor/write_actuator) -> simulated plant, "
                       "safe state" % getattr(board, "NAME", "?"))
            sensor_kind, actuator_kind, fell_back = "plant", "sim", True
        elif getattr(board, "setup", None) is not None:
            try:
                board.setup(period_ms)
            except (ValueError, OSError) as exc:  # bad calibration constant, pin or peripheral
                msgs.error("board %s: setup failed (%s) -> simulated plant, safe state" % (
                    getattr(board, "NAME", "?"), exc))
                sensor_kind, actuator_kind, fell_back = "plant", "sim", True
    if sensor_kind == "replay":
        from tinypolicy_app.replay import ReplayError, ReplaySensor, scan_replay  # replay mode only: heap

        path = resolve(cfg["replay_input"], here)
        try:
            sensor = ReplaySensor(path, scan_replay(path))
        except ReplayError as exc:
            msgs.error("replay_input: %s" % text_of(exc))
            return None
        except OSError as exc:
            msgs.error("replay_input: %s: cannot read (%s)" % (path, exc))
            return None
        msgs.info("replay %s: %d rows (streamed)" % (path, sensor.n))
        out_path = cfg["replay_output"]
        if out_path:
            kind = not_regular(out_path)
            try:
                if kind:  # a FIFO would block open() until someone reads it
                    raise OSError("%s, not a file" % kind)
                out_file = open(out_path, "w")
                out_file.write("torque_q12\n")
            except OSError as exc:
                sensor.close()
                msgs.error("replay_output: %s: cannot write (%s)" % (out_path, exc))
                return None
            extra = _line_writer(out_file)
        return sensor, NullActuator(), None, extra, out_file, fell_back
    if sensor_kind == "board":
        if actuator_kind == "board":
            return BoardSensor(board), BoardActuator(board), None, None, None, fell_back
        return BoardSensor(board), NullActuator(), None, None, None, fell_back
    plant = Pendulum(to_q20(cfg["init_theta"]), to_q20(cfg["init_theta_dot"]), period_ms)
    noise = Noise(cfg["noise"], cfg["noise"], cfg["seed"]) if cfg["noise"] > 0 else None
    if actuator_kind == "board":  # simulated plant, torque to the motor only: a bench test of the driver
        return PlantSensor(plant, noise), BoardActuator(board), plant, None, None, fell_back
    return PlantSensor(plant, noise), SimActuator(plant), plant, None, None, fell_back


def _line_writer(f):
    def write(torque_q12):
        f.write("%d\n" % torque_q12)

    return write


def main(board, argv=None, here=".", link=False):
    """The app; returns the unix exit status. `link`: the board's console is the serial link to a host (a board, the
    virtual board): Ctrl-C is guarded during the run (see link.py). A MemoryError during start-up is one error
    line, with the motor off, never a traceback."""
    msgs = Messages("info")
    try:
        return _main(board, argv, here, link, msgs)
    except MemoryError:
        import gc

        gc.collect()
        off = getattr(board, "actuator_off", None)
        if off is not None:
            off()
        msgs.error("memory: the heap is exhausted during start-up -> safe state: zero torque, nothing runs")
        msgs.done()
        return 1


def _main(board, argv, here, link, msgs):
    overrides = {"period_ms": getattr(board, "DEFAULT_PERIOD_MS", 10)}
    try:
        cfg, errors, options, found = config.load(here + "/config.json", argv, overrides)
    except (config.UsageError, ValueError) as exc:
        msgs.error(text_of(exc))
        msgs.done()
        return 2
    if options["help"]:
        print(config.usage())
        return 0
    msgs.set_level(cfg["log_level"])
    safe = False
    for err in errors:
        msgs.error("config: " + err)
        safe = True
    if not found:
        msgs.info("no config file (%s/config.json): defaults and flags only" % here)

    period_ms = cfg["period_ms"]
    replay = cfg["sensor"] == "replay"
    realtime = cfg["mode"] == "realtime" and not replay
    msgs.info("tinypolicy app board=%s mode=%s period_ms=%d sensor=%s duration_s=%s noise=%s init_theta=%s "
              "init_theta_dot=%s seed=%d decimation=%d" % (
                  getattr(board, "NAME", "?"), "realtime" if realtime else "batch", period_ms, cfg["sensor"],
                  cfg["duration_s"], cfg["noise"], cfg["init_theta"], cfg["init_theta_dot"], cfg["seed"],
                  cfg["decimation"]))

    # the loop's buffers first, while the heap is least fragmented (before the model load)
    import gc

    gc.collect()
    ring = Ring(cfg["ring"])
    loop = ControlLoop(None, None, None, None, ring, period_ms, 1 if replay else cfg["decimation"])

    policy, model_path, err = load_policy(cfg, here, msgs)
    if err:
        msgs.error(err + " -> safe state: zero torque")
        safe = True
    else:
        msgs.info("model %s dtype=%s" % (model_path, policy.dtype))
    if safe:
        policy = None
    alloc_free = policy is None or policy.dtype != "f32"
    if not alloc_free:
        msgs.warn("f32 policy allocates in infer_q: soft timer only, no heap lock (use int8 or q15 on a board)")

    # stages
    try:
        stages = build_stages(board, cfg, here, msgs, policy is not None)
    except MemoryError:
        policy = None
        gc.collect()
        msgs.error("memory: the heap is exhausted setting up the %s stage -> safe state: zero torque" % cfg["sensor"])
        if replay:
            msgs.done()
            return 1
        safe = True
        cfg["sensor"], cfg["actuator"] = "plant", "sim"
        stages = build_stages(board, cfg, here, msgs, False)
    if stages is None:
        msgs.done()
        return 1
    sensor, actuator, plant, extra, out_file, fell_back = stages
    if fell_back:
        safe, policy = True, None
    limit, err = torque_limit(board)  # the hardware limit (board module) before the actuator, Q12 N*m
    if err:
        msgs.error(err + " -> safe state: zero torque")
        safe, policy = True, None

    if policy is not None:  # and the model's declared range (the runtime already keeps its outputs inside it)
        limit = min(limit, policy.out_hi_q[0])
    loop.attach(policy, sensor, actuator, plant, limit)
    if safe:
        loop.safe_off()

    # warm-up on the initial state (noise-free), so the PRNG sequence of the run does not depend on it
    if plant is not None:
        loop.inp[0] = (plant.st[0] + 128) >> 8
        loop.inp[1] = (plant.st[1] + 128) >> 8
    try:
        warm_up(policy, loop.inp, loop.out, cfg["warmup"], msgs, loop.infer_hist)
    except Exception as exc:  # noqa: BLE001 - a policy that fails here must not drive the motor
        msgs.error("model: warm-up inference raised %r -> safe state: zero torque" % (exc,))
        safe = True
        loop.safe_off()

    gc.collect()
    msgs.info("memory: heap used %d free %d bytes after setup (ring %d rows, %d bytes)" % (
        gc.mem_alloc(), gc.mem_free(), ring.cap, 36 * ring.cap))
    n_ticks = -1
    if cfg["duration_s"] > 0 and not replay:
        n_ticks = int(cfg["duration_s"] * 1000 + 0.5) // period_ms
    watch = None
    if link:
        from tinypolicy_app.link import Link  # not on the unix command line: heap

        watch = Link(board)
    write_line(HEADER)
    rep = Reporter(loop, ring, msgs, write_line, extra)
    try:
        if watch is not None:
            watch.open()
        if realtime:
            if not run_realtime(board, loop, n_ticks, alloc_free, rep, msgs, watch):
                safe = True
        else:
            run_batch(loop, n_ticks, alloc_free, rep, watch)
    except KeyboardInterrupt:
        msgs.warn("interrupted")
    except MemoryError:
        msgs.error("tick %d allocated with the heap locked: motor off, loop stopped" % (loop.last_tick + 1))
        safe = True
    except Exception as exc:  # noqa: BLE001 - report, stop the motor, still print the summary
        msgs.error("tick %d raised %r: motor off, loop stopped" % (loop.last_tick + 1, exc))
        safe = True
    finally:
        actuator.off()
        if watch is not None:
            watch.close()
        rep.pump()
        if out_file is not None:
            out_file.close()
        close = getattr(sensor, "close", None)
        if close is not None:
            close()
    if watch is not None and watch.stopped:
        msgs.info("stopped: stop request (CR Ctrl-C) on the link")
    summary(loop, ring, cfg, msgs, realtime, watch.stray if watch is not None else 0)
    msgs.done()
    return 1 if safe else 0
