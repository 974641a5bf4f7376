# device: the app's foreground reporter rate-limits its warnings, and a failing board setup falls back to the safe state
# (own file: importing the whole app from source needs most of a 128K heap).
from tinypolicy_app.app import Reporter


def test_reporter_warns_at_most_once_per_second_per_counter():
    class Fake:
        overruns = missed = reentries = dropped = 0
        last_tick = -1
        period_ms = 10

        def drain(self, out, limit, extra):
            return 0

    class Msgs:
        def __init__(self):
            self.lines = []

        def warn(self, text):
            self.lines.append(text)

    lp, msgs = Fake(), Msgs()
    rep = Reporter(lp, lp, msgs, None)
    for tick in range(300):  # 3 s of control time, an overrun on every tick
        lp.last_tick = tick
        lp.overruns += 1
        rep.pump()
    assert len(msgs.lines) == 3, msgs.lines
    assert msgs.lines[0].startswith("overrun: 1 steps") and msgs.lines[-1].startswith("overrun: 201 steps")
    lp.last_tick = 400
    rep.pump()  # no change since the last report: nothing to say
    assert len(msgs.lines) == 4 and msgs.lines[-1].startswith("overrun: 300 steps")
    rep.pump()
    assert len(msgs.lines) == 4


WHY = "AnalogRig: zero_raw12 = 5000: want an int in 0..4095"


def test_a_board_whose_setup_fails_runs_the_safe_simulated_plant():
    from tinypolicy_app import config
    from tinypolicy_app.app import build_stages

    class Board:
        NAME = "rig"

        def setup(self, period_ms):
            raise ValueError(WHY)

        def read_sensor(self, inp):
            raise AssertionError("never read after a failed setup")

        write_actuator = read_sensor

    class Msgs:
        def __init__(self):
            self.errors = []

        def error(self, text):
            self.errors.append(text)

    cfg = config.defaults()
    cfg["sensor"] = "board"
    msgs = Msgs()
    sensor, actuator, plant, extra, out_file, fell_back = build_stages(Board(), cfg, ".", msgs, True)
    assert fell_back and plant is not None and out_file is None
    want = "board rig: setup failed (%s) -> simulated plant, safe state" % WHY
    assert msgs.errors == [want], msgs.errors


class _Msgs:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)


class _Policy:
    def __init__(self, fail_at=-1):
        self.calls, self.fail_at = 0, fail_at

    def infer_q(self, inp, out):
        if self.calls == self.fail_at:
            raise ValueError("boom")
        self.calls += 1
        out[0] = 4096


def _empty(hist):
    return hist.n == 0 and hist.max == 0 and all(not any(part) for part in hist.parts)


def test_warm_up_every_allowed_count_uses_the_histogram_and_empties_it():
    from array import array

    from tinypolicy_app import config
    from tinypolicy_app.app import warm_up
    from tinypolicy_app.loop import Hist

    hist = Hist()  # the app passes the loop's infer_hist: no buffer sized by the warm-up count
    inp, out = array("i", (0, 0)), array("i", (0,))
    top = config.SCHEMA["warmup"][2][1]
    for n in (1, 2, 600, top):
        msgs, policy = _Msgs(), _Policy()
        warm_up(policy, inp, out, n, msgs, hist)
        assert policy.calls == n
        assert len(msgs.lines) == 1 and msgs.lines[0].startswith("warmup n=%d cold_us=" % n), msgs.lines
        assert msgs.lines[0].endswith(" torque_q12=4096"), msgs.lines
        assert _empty(hist), "warm-up times left in the loop's histogram"
    msgs = _Msgs()
    warm_up(None, inp, out, top, msgs, hist)
    assert msgs.lines == ["warmup skipped"]
    try:  # a policy that raises mid-way: the app reports it (safe state); the histogram is still emptied
        warm_up(_Policy(fail_at=5), inp, out, 10, _Msgs(), hist)
    except ValueError:
        assert _empty(hist)
    else:
        raise AssertionError("the policy's exception was swallowed")
