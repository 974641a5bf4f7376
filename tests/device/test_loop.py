# device: control loop mechanics: plant, noise, ring, config, timer wrapper, unix ticker, heap-locked step.
import time
from array import array

from devtest import scratch_file
from tinypolicy_app import config
from tinypolicy_app.logger import FLAG_DROPPED, Ring, fmt_fixed, format_row
from tinypolicy_app.loop import T_WRAP, tadd
from tinypolicy_app.plant import PI_Q20, Pendulum, to_q20
from tinypolicy_app.replay import REPLAY_LIMIT, ReplaySensor, scan_replay
from tinypolicy_app.sensors import Noise, gauss_q12


def load_replay(path):
    """Every row of a replay file, through the app's two passes: scan_replay checks, ReplaySensor streams."""
    s = ReplaySensor(path, scan_replay(path))
    inp = array("i", (0, 0))
    rows = []
    while not s.done:
        s.fill()
        s.read(inp)
        rows += list(inp)
    s.close()
    return rows


def test_fmt_fixed_rounds_exactly():
    assert fmt_fixed(0, 20) == "0.0000"
    assert fmt_fixed(PI_Q20, 20) == "3.1416"
    assert fmt_fixed(-PI_Q20, 20) == "-3.1416"
    assert fmt_fixed(-8192, 12) == "-2.0000"
    assert fmt_fixed(4096 + 2048, 12) == "1.5000"
    assert fmt_fixed(-1, 20) == "0.0000"  # rounds to zero: no "-0.0000"
    assert fmt_fixed((1 << 20) - 1, 20) == "1.0000"  # carry into the integer part


def test_gauss_is_standard_normal_in_q12_and_seeded():
    st = array("i", (Noise(0, 0, 123).st[0],))
    n = 4000
    s = 0
    s2 = 0
    lo = hi = 0
    for _ in range(n):
        z = gauss_q12(st)
        s += z
        s2 += (z * z) >> 8
        lo = min(lo, z)
        hi = max(hi, z)
    mean = s / n / 4096
    std = ((s2 * 256) / n) ** 0.5 / 4096
    assert abs(mean) < 0.06, mean
    assert 0.95 < std < 1.05, std
    assert -24570 <= lo and hi <= 24570
    a = array("i", (Noise(0, 0, 5).st[0],))
    b = array("i", (Noise(0, 0, 5).st[0],))
    assert [gauss_q12(a) for _ in range(5)] == [gauss_q12(b) for _ in range(5)]


def test_plant_matches_float_pendulum():
    """Fixed-point plant vs the same semi-implicit Euler in double precision: 2 s, constant torque."""
    import math

    for dt_ms in (5, 50):
        p = Pendulum(to_q20(1.0), to_q20(-0.5), dt_ms)
        th, w = 1.0, -0.5
        dt = dt_ms / 1000
        for _ in range(2000 // dt_ms):
            p.torque = 2048  # 0.5 N*m
            p.step()
            w = max(-8.0, min(8.0, w + (15 * math.sin(th) + 3 * 0.5) * dt))
            th = th + w * dt
            th = (th + math.pi) % (2 * math.pi) - math.pi
        dth = abs(p.st[0] / 1048576 - th)
        dth = min(dth, 2 * math.pi - dth)
        assert dth < 2e-3, (dt_ms, p.st[0] / 1048576, th)
        assert abs(p.st[1] / 1048576 - w) < 5e-3, (dt_ms, p.st[1] / 1048576, w)


def test_plant_clamps_speed_and_wraps_angle():
    p = Pendulum(to_q20(0.5), to_q20(7.9), 50)
    top = 0
    for _ in range(100):
        p.torque = 8192 * 4  # beyond max: clamped to 2 N*m
        p.step()
        assert -PI_Q20 <= p.st[0] < PI_Q20
        assert abs(p.st[1]) <= 8 << 20
        top = max(top, p.st[1])
    assert top == 8 << 20  # the speed clamp engaged
    q = Pendulum(0, 0, 10)
    q.torque = 8192 * 4
    q.step()
    assert q.st[1] == 62915  # round(0.06 * 2^20): 3 u dt with u clamped to 2 N*m


def test_ring_counts_drops_and_flags_next_row():
    r = Ring(4)  # holds 3 rows
    for k in range(5):
        r.record(k, 0, 0, 0, 0, 0, 0, 0, 0)
    assert r.dropped == 2 and r.pending() == 3
    lines = []
    assert r.drain(lines.append) == 3
    assert [ln.split(",")[0] for ln in lines] == ["0", "1", "2"]
    r.record(9, 0, 0, 0, 0, 0, 0, 0, 0)
    lines = []
    r.drain(lines.append)
    assert lines[0].split(",")[-1] == str(FLAG_DROPPED)


def test_row_format_matches_header_contract():
    from tinypolicy_app.logger import HEADER

    assert HEADER == "tick,t_us,theta,theta_dot,torque,infer_us,lateness_us,overruns,flags"
    cols = [array("i", (v,)) for v in (3, 30000, -PI_Q20, 1 << 20, -8192, 41, 7, 0, 8)]
    assert format_row(cols, 0) == "3,30000,-3.1416,1.0000,-2.0000,41,7,0,8"


def test_config_validation_names_key_and_range():
    cfg = config.defaults()
    errors = []
    config.merge(cfg, {"period_ms": 3, "mode": "fast", "noise": 0.02, "nope": 1}, errors)
    text = " | ".join(errors)
    assert "period_ms: 3 not allowed (allowed: integer 5..50)" in text, text
    assert "mode: 'fast' not allowed (allowed: one of 'realtime', 'batch')" in text, text
    assert "nope: unknown key" in text, text
    assert cfg["period_ms"] == 10 and cfg["mode"] == "realtime" and cfg["noise"] == 0.02


def test_flags_override_and_usage_errors():
    settings, options = config.parse_argv(
        ["--period-ms", "7", "--mode=batch", "--noise", "0.02", "--init-theta", "-1.5"]
    )
    assert settings == {"period_ms": 7, "mode": "batch", "noise": 0.02, "init_theta": -1.5}, settings
    for bad in (["--bogus", "1"], ["--period-ms"], ["stray"]):
        try:
            config.parse_argv(bad)
        except config.UsageError:
            continue
        raise AssertionError("accepted %r" % bad)
    try:
        config.load(None, ["--period-ms", "70"])
    except config.UsageError as exc:
        assert "period_ms: 70 not allowed (allowed: integer 5..50)" in str(exc), exc
    else:
        raise AssertionError("period 70 accepted")


def test_config_rejects_non_finite_and_huge_numbers_naming_the_key():
    inf = float("inf")
    cfg = config.defaults()
    errors = []
    config.merge(cfg, {"period_ms": inf, "warmup": -inf, "decimation": float("nan"), "seed": 1e300,
                       "ring": 10 ** 40, "duration_s": inf, "noise": float("nan")}, errors)
    assert len(errors) == 7, errors
    for key, shown in (("period_ms", "inf"), ("warmup", "-inf"), ("decimation", "nan"), ("seed", "1e+300"),
                       ("ring", str(10 ** 40)), ("duration_s", "inf"), ("noise", "nan")):
        want = "%s: %s not allowed (allowed: %s)" % (key, shown, config.allowed(key))
        assert want in errors, (want, errors)
    assert cfg == config.defaults(), cfg  # every bad key kept its default
    # the same from a config file: json gives inf for 1e400
    path = scratch_file("cfg_inf.json", '{"period_ms": 1e400, "warmup": 12.0}')
    try:
        cfg, errors, _options, found = config.load(path)
    finally:
        import os

        os.remove(path)
    assert found and errors == ["period_ms: inf not allowed (allowed: integer 5..50)"], errors
    assert cfg["period_ms"] == 10 and cfg["warmup"] == 12


def test_config_file_given_with_flag_must_be_readable():
    # config.json beside main.py may be missing: defaults, not an error
    cfg, errors, _options, found = config.load("build/no_such_dir/config.json", ["--warmup", "3"])
    assert not found and errors == [] and cfg["warmup"] == 3, errors
    # a file named with --config must be readable: missing or a directory is a config error naming it
    for path, why in (("build/no_such_config.json", "ENOENT"), ("tests", "")):  # a directory: errno per port
        cfg, errors, options, _found = config.load("device/config.json", ["--config", path])
        assert options["config"] == path
        assert len(errors) == 1 and errors[0].startswith(path + ": cannot read ("), errors
        assert why in errors[0], errors
        assert cfg == config.defaults(), cfg
    # a directory where config.json should be is not "missing" either
    cfg, errors, _options, found = config.load("tests")
    assert errors and errors[0].startswith("tests: cannot read ("), errors


def test_replay_sensor_reads_rows_then_stops():
    import os

    path = scratch_file("replay_two.csv", "1,2\n3,4\n")
    s = ReplaySensor(path, scan_replay(path))
    inp = array("i", (0, 0))
    s.read(inp)
    assert list(inp) == [1, 2] and not s.done
    s.read(inp)
    assert list(inp) == [3, 4] and s.done
    s.close()
    os.remove(path)


def _replay_rejects(name, text, line, *words):
    import os

    path = scratch_file(name, text)
    try:
        load_replay(path)
    except ValueError as exc:
        msg = str(exc)
        assert msg.startswith("%s:%d: " % (path, line)), msg
        for w in words:
            assert w in msg, (w, msg)
        return
    finally:
        os.remove(path)
    raise AssertionError("%s: accepted %r" % (name, text))


def test_load_replay_reads_two_columns_within_range():
    import os

    top = REPLAY_LIMIT - 1
    path = scratch_file("replay_ok.csv", "# note\ntheta_q12,theta_dot_q12\n1,-2\n\n%d,%d\n" % (top, -top))
    try:
        assert list(load_replay(path)) == [1, -2, top, -top]
    finally:
        os.remove(path)
    assert (top << 8) < (1 << 30)  # logged as Q20 (inp << 8): still a small int on 32-bit ports


def test_load_replay_rejects_wrong_column_counts_and_out_of_range_values():
    _replay_rejects("replay_3col.csv", "0,0\n1,2,3\n", 2, "want two integer columns", "(found 3)")
    _replay_rejects("replay_1col.csv", "theta_q12,theta_dot_q12\n5\n", 2, "(found 1)")
    _replay_rejects("replay_trailing.csv", "1,2,\n", 1, "(found 3)")
    _replay_rejects("replay_text.csv", "1,x\n", 1, "want two integer columns")
    # 99999999999 would be stored as 1215752191 by array('i') on the unix port
    _replay_rejects("replay_huge.csv", "0,0\n1,2\n99999999999,0\n", 3, "99999999999 out of range")
    _replay_rejects("replay_neg.csv", "0,%d\n" % -REPLAY_LIMIT, 1, "out of range")
    _replay_rejects("replay_limit.csv", "%d,0\n" % REPLAY_LIMIT, 1, "out of range")


def _median(xs):
    return sorted(xs)[len(xs) // 2]


def test_unix_ticker_keeps_an_absolute_schedule():
    """Deadline k = start + k * period whatever the foreground does: here it works 7 ms after every 5 ms tick, so
    it comes back after the next deadline every time. An absolute schedule serves each tick within a period of its
    slot's deadline (slots it cannot serve are skipped and counted), so the lateness never grows; a schedule
    relative to the last tick, or one that bunches late ticks, falls 2 ms further behind per tick (+20 ms from the
    first ten ticks to the last ten). The bounds are per slot and on medians: a stall of the shared machine (skipped
    slots, one very late tick) does not fail it."""
    from tinypolicy_app.ticker import Timer

    n = 20
    stamps = [0] * n
    slots = [0] * n
    count = [0]

    def cb(t):
        k = count[0]
        stamps[k] = time.ticks_us()
        slots[k] = t.fired - 1 + t.missed  # the schedule slot this call serves (skipped slots counted)
        count[0] = k + 1

    t = Timer(-1)
    t0 = time.ticks_us()
    t.init(mode=Timer.PERIODIC, period=5, callback=cb, hard=True)  # hard: heap locked around cb
    while count[0] < n:
        if t.poll():
            busy = time.ticks_us()
            while time.ticks_diff(time.ticks_us(), busy) < 7000:  # the foreground's work after each tick
                pass
    t.deinit()
    late = [time.ticks_diff(stamps[k], t0) - 5000 * (slots[k] + 1) for k in range(n)]
    assert all(d >= 0 for d in late), late  # never before its deadline
    assert all(slots[k] < slots[k + 1] for k in range(n - 1)), slots  # one call per slot, never bunched
    assert t.fired == n and slots[-1] == n - 1 + t.missed, (slots, t.missed)
    assert _median(late) < 5000, late  # within a period of its slot's deadline (else the slot is skipped)
    drift = _median(late[n // 2:]) - _median(late[:n // 2])
    assert -5000 < drift < 5000, late  # no accumulation (relative or bunching: ~+20000)


def test_control_time_wraps_at_2_pow_30_without_long_ints():
    assert tadd(5, 7) == 12
    assert tadd(T_WRAP, 1) == 0
    assert tadd(T_WRAP - 10, 30) == 19
    assert tadd(T_WRAP, T_WRAP) == T_WRAP - 1


def test_hist_median_percentile_and_clamp():
    from tinypolicy_app.loop import HIST_BINS, Hist

    h = Hist()
    assert h.median() == -1
    for v in (3, 5, 5, 7, 300, 5000, -4):
        h.add(v)
    assert h.median() == 5 and h.max == 5000
    assert h.percentile(99) == HIST_BINS - 1  # 5000 lands in the last bin
    assert h.percentile(1) == 0  # -4 clamps to 0

