# device: the app's foreground reporter rate-limits its warnings (own file: importing the whole app from source
# needs most of a 128K heap).
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
