# device: issue 11 on the device app: invalid sensor readings (zero torque, counted, loop goes on, heap locked),
# any policy output clamped to the limit before the actuator,
# the serial link's stop request vs stray Ctrl-C, the strict config rule, streamed replay with bounded lines.
from array import array

from devtest import scratch_file
from tinypolicy_app.logger import FLAG_BAD_INPUT, Ring
from tinypolicy_app.loop import ControlLoop
from tinypolicy_app.sensors import INPUT_LIMIT_Q12


class _Policy:
    dtype = "int8"

    def __init__(self):
        self.calls = 0

    def infer_q(self, inp, out):
        self.calls += 1
        out[0] = 4096


class _Sensor:
    """Replays `script`: an int pair is written, a float (NaN / inf) is stored into the int array (TypeError),
    'int-nan' is what int(nan) raises, 'int-inf' what int(inf) raises."""

    done = False

    def __init__(self, script):
        self.script, self.k = script, 0

    def read(self, inp):
        v = self.script[self.k % len(self.script)]
        self.k += 1
        if v == "int-nan":
            int(NAN)
        if v == "int-inf":
            int(INF)
        inp[0] = v[0]
        inp[1] = v[1]


class _Null:
    def write(self, torque):
        self.last = torque

    def off(self):
        self.last = 0


def _run(script, n):
    ring = Ring(64)
    act = _Null()
    policy = _Policy()
    loop = ControlLoop(policy, _Sensor(script), act, None, ring, 10)
    rows = []
    for _ in range(n):
        loop.batch_step()
        ring.drain(rows.append)
    return loop, policy, rows


NAN = float("nan")
INF = float("inf")


def test_invalid_sensor_readings_give_zero_torque_and_the_loop_goes_on():
    good = (100, -200)
    script = [good, (NAN, 0), good, (0, INF), "int-nan", "int-inf", (INPUT_LIMIT_Q12, 0), (0, -INPUT_LIMIT_Q12),
              good]
    loop, policy, rows = _run(script, len(script))
    assert loop.steps == len(script) and loop.fault is None
    assert loop.bad_inputs == 6, loop.bad_inputs
    assert policy.calls == 3  # the policy never sees an invalid reading
    for k, row in enumerate(rows):
        f = row.split(",")
        bad = script[k] != good
        assert (int(f[8]) & FLAG_BAD_INPUT != 0) == bad, (k, row)
        assert f[4] == ("0.0000" if bad else "1.0000"), (k, row)
        if bad:
            assert f[2] == f[3] == "0.0000", row  # logged as 0 (never a value that would allocate)
    assert loop.last_not_upright == len(script) - 2  # an invalid reading is not "upright"


def test_invalid_sensor_reading_is_handled_with_the_heap_locked():
    script = [(1, 2), (NAN, 0), "int-inf", (INPUT_LIMIT_Q12 + 5, 0)]
    ring = Ring(64)
    loop = ControlLoop(_Policy(), _Sensor(script), _Null(), None, ring, 10)
    loop.batch_step()  # warm every attribute
    import micropython

    micropython.heap_lock()
    try:
        for _ in range(3):
            loop.batch_step()
    finally:
        micropython.heap_unlock()
    assert loop.bad_inputs == 3 and loop.steps == 4


class _Wild:
    """A policy whose output is anything an int32 can hold (a replaced policy, a broken kernel)."""

    dtype = "int8"
    OUTS = (2147483647, -2147483648, 409600, -8193, 4095, -4096, 0)

    def __init__(self):
        self.k = 0

    def infer_q(self, inp, out):
        out[0] = self.OUTS[self.k % len(self.OUTS)]
        self.k += 1


def test_the_step_clamps_any_policy_output_to_the_limit_before_the_actuator():
    seen = []
    act = _Null()
    act.write = seen.append
    ring = Ring(64)
    loop = ControlLoop(_Wild(), _Sensor([(0, 0)]), act, None, ring, 10, max_torque_q12=4096)
    for _ in range(len(_Wild.OUTS)):
        loop.batch_step()
    assert seen == [4096, -4096, 4096, -4096, 4095, -4096, 0], seen
    rows = []
    ring.drain(rows.append)
    assert [r.split(",")[4] for r in rows] == ["1.0000", "-1.0000", "1.0000", "-1.0000", "0.9998", "-1.0000",
                                               "0.0000"], rows


def _stream(name, data):
    return open(scratch_file(name, data), "rb")


class _Board:
    def __init__(self):
        self.calls = []

    def ctrl_c(self, enabled):
        self.calls.append(enabled)


def test_link_stops_on_cr_ctrl_c_only_and_leaves_the_rest_unread():
    from tinypolicy_app.link import Link

    f = _stream("link_in.bin", b"ab\x03c\x03\x03d\r\x03\r\x01rest")
    board = _Board()
    link = Link(board, f)
    link.open()
    assert board.calls == [False]
    assert link.stop_requested() is True
    assert link.stray == 3, link.stray
    assert f.read() == b"\r\x01rest"  # for the REPL: mpremote's Ctrl-A after its CR Ctrl-C
    link.close()
    assert board.calls == [False, True]


def test_link_ignores_noise_without_a_stop_request():
    from tinypolicy_app.link import Link

    noise = bytes((i * 37 + 3) % 256 for i in range(2000)).replace(b"\r\x03", b"\n\x03")
    link = Link(_Board(), _stream("link_noise.bin", noise))
    link.open()
    assert link.stop_requested() is False
    assert link.stray == noise.count(b"\x03") and link.stray > 0
    assert link.stop_requested() is False  # end of input: stops watching, never blocks


def test_strict_config_rule():
    from tinypolicy_app import strictjson

    good = b'{"period_ms": 20, "model": "models/policy_int8.bin", "noise": 1e-2}\n'

    assert strictjson.parse_bytes(good, 2048) == {"period_ms": 20, "model": "models/policy_int8.bin", "noise": 0.01}
    for text, what in ((b'{"mode": "batch",}', "trailing comma"), (b'{"a" 1}', "expected ':'"),
                       (b'{"a": 1 "b": 2}', "expected ','"), (b'{"a": 01}', "bad number"),
                       (b'{"a": [1]}', "nested value"), (b"[" * 2000, "want a JSON object"),
                       (b'{"a": ' + b"[" * 2000, "nested value"),
                       (b'{"a": "\xff"}', "not UTF-8"), (b'{"a": 1, "a": 2}', "duplicate key"),
                       (b'{"a": 1} {}', "text after"), (b"{" + b" " * 3000 + b"}", "more than a config")):
        try:
            strictjson.parse_bytes(text, 2048)
        except strictjson.ConfigSyntaxError as exc:
            assert what in exc.args[0], (text[:30], exc.args[0])
        else:
            raise AssertionError("accepted %r" % text[:40])


def test_replay_streams_in_chunks_and_bounds_lines():
    import os

    from tinypolicy_app.replay import REPLAY_CHUNK, ReplayError, ReplaySensor, scan_replay

    n = 3 * REPLAY_CHUNK + 5
    body = b"# \xff\xfe not UTF-8 in a comment is fine\n#" + b"x" * 500 + b"\ntheta_q12,theta_dot_q12\n"
    body += b"".join(b"%d,%d\n" % (k, -k) for k in range(n))
    f = _stream("replay_stream.csv", body)
    f.close()
    path = "build/tmp/replay_stream.csv"
    s = ReplaySensor(path, scan_replay(path))
    inp = array("i", (0, 0))
    k = 0
    while not s.done:
        s.fill()
        s.read(inp)
        assert list(inp) == [k, -k], (k, list(inp))
        k += 1
    assert k == n
    s.close()
    for name, data, what in (("replay_utf8.csv", b"0,0\n\xff\xfe,1\n", ":2: want two integer columns"),
                             ("replay_long.csv", b"0,0\n1,", ":2: line longer than 64")):
        _stream(name, data).close()
        if name == "replay_long.csv":  # a 300 KB line, written in pieces (the test's heap is 128K too)
            with open("build/tmp/" + name, "ab") as f:
                for _ in range(300):
                    f.write(b"1" * 1000)
                f.write(b"\n")
        try:
            scan_replay("build/tmp/" + name)
        except ReplayError as exc:
            assert what in exc.args[0], exc.args[0]
        else:
            raise AssertionError(name)
        os.remove("build/tmp/" + name)
    os.remove(path)
