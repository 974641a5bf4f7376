# device: benchmark script: policy latency, per-stage timing, heap per tick, RAM per policy (unix port and boards).
"""Plain MicroPython, public `tinypolicy` API only (Policy.infer_q, infer, run_layers, layers). Runs on the unix
port (driven by `tinypolicy bench`) and on a board:

    mpremote run device/bench/device_bench.py            # board: needs /tinypolicy/ and /models/ flashed
    MICROPYPATH=build/mpy/x64 micropython -X heapsize=128K device/bench/device_bench.py --n 10000
    ... device/bench/device_bench.py --blobs tests/data/golden/multi/policy_multi_int8.bin,... --kernel portable

`--blobs` benchmarks the given files (any v2 blob, named by path) instead of MODELS/policy_<dtype>.bin;
`--kernel viper|portable` forces the integer kernel (default: the runtime's automatic choice); `--max-bytes B` is
passed to Policy.load (nets larger than its default limit; give the unix port a larger -X heapsize). The control-tick
section needs the pendulum (2 inputs, 1 output) and is skipped for other nets.

Output: one line per result, `BENCH <record> key=value ...` (values are ints or words, never floats, so the
script formats nothing it would have to allocate floats for), and `# text` comment lines. Records:

- `info`: port, MicroPython version, heap size, the clock used (`clock=ticks_us` or `ticks_cpu` and its
  calibrated `clock_ps` = picoseconds per unit).
- `heap stage=S`: heap taken by importing the runtime, then each control-app module (`bytes`, `total`).
Every per-policy record carries `dtype=D` (the file's dtype, or its path with --blobs) and `kernel=K`.
- `memory dtype=D`: `blob_bytes`, `load_us`, `heap_before`, `heap_after` (gc.mem_alloc() after gc.collect()
  without / with the loaded policy), `policy_bytes` = their difference: the RAM the loaded policy holds (the
  second load of the blob; `first_load_bytes`: the first one's, with one-time costs such as lazy imports).
- `latency dtype=D api=infer_q|infer`: `n` calls after `warmup` calls; `cold_ns` (first call after load),
  single-call samples `p50_ns`/`p99_ns`/`max_ns` (each call timed alone; 1 µs resolution with ticks_us),
  `median_ns` = median over blocks of `block` back-to-back calls (sub-µs resolution), `mean_ns` over all blocks.
  Timer and loop overhead (the same loop without the call) is subtracted from block times.
- `stage dtype=D stage=S`: per-stage breakdown, differential (see `prefix_nets`): `mean_ns` of the stage,
  `cumulative_ns` of the forward pass up to and including it (the `features` stage includes the call itself).
- `alloc dtype=D what=infer_q|tick`: heap bytes allocated over `n` calls (gc.mem_alloc() deltas, automatic
  gc disabled), and `locked_ok=1` when the same calls ran under micropython.heap_lock() without MemoryError.
- `tick dtype=D`: cost of one whole control step (sensor -> policy -> actuator -> plant -> ring), ns.
- `count dtype=D n=N` (section `count`, never by default): n untimed calls, for instruction counting.
- `error section=S msg=...`: a section that could not run (e.g. runtime missing); the others still run.
"""
# ruff: noqa: UP031  (MicroPython: %-formatting, as in device/; f-strings are optional on small ports)
import gc
import sys
import time
from array import array

try:
    import micropython
except ImportError:  # CPython has no micropython module; the script is MicroPython-only but must not crash
    micropython = None  # type: ignore[assignment]

# ---- defaults for a board run (mpremote run passes no arguments: edit these) -------------------------------
N = 10000  # timed calls per measurement
WARMUP = 1000  # untimed calls before timing
BLOCK = 16  # calls per block for the block median
BUDGET_MS = 0  # >0: cap each measurement at about this much time; 0: no cap on unix, 10 s on a board
DTYPES = ("f32", "int8", "q15")
MODELS = "models"  # folder of policy_<dtype>.bin (relative to the cwd: repo root on unix, / on a board)
SECTIONS = ("memory", "latency", "stage", "alloc", "tick")
KERNEL = None  # None: automatic; "viper" or "portable"
MAX_BYTES = 0  # >0: Policy.load's max_bytes (larger nets than its default); 0: the default
HBINS = 2048  # single-call histogram bins

_ticks_us = time.ticks_us
_ticks_diff = time.ticks_diff


def out(record, **kv):
    parts = ["BENCH", record]
    for k in kv:
        v = kv[k]
        if isinstance(v, float):
            v = int(v)
        v = str(v).replace(" ", "_")
        parts.append("%s=%s" % (k, v))
    print(" ".join(parts))


def err(section, msg, **kv):
    out("error", section=section, msg=str(msg).replace("=", ":"), **kv)


# ---- clock ---------------------------------------------------------------------------------------------
def pick_clock():
    """The finest working tick counter and its calibrated length in picoseconds per unit.

    ticks_cpu where it counts faster than ticks_us and consistently (ESP32: CPU cycles); ticks_us otherwise
    (the unix port's ticks_cpu returns 0; on rp2 it is not a plain up-counter)."""
    cpu = getattr(time, "ticks_cpu", None)
    if cpu is not None:
        rates = []
        for _ in range(2):
            c0 = cpu()
            u0 = _ticks_us()
            while _ticks_diff(_ticks_us(), u0) < 20000:
                pass
            c1 = cpu()
            u1 = _ticks_us()
            du = _ticks_diff(u1, u0)
            dc = _ticks_diff(c1, c0)
            rates.append((dc, du))
        (dc0, du0), (dc1, du1) = rates
        if dc0 > 2 * du0 and dc1 > 2 * du1:
            r0 = dc0 * 1000 // du0  # units per ms
            r1 = dc1 * 1000 // du1
            if abs(r0 - r1) * 20 < r0:  # within 5 %
                return cpu, "ticks_cpu", 1000000000 // ((r0 + r1) // 2)
    return _ticks_us, "ticks_us", 1000000


# ---- inputs --------------------------------------------------------------------------------------------
def make_states(p, k=64):
    """k input vectors for policy p, flat in one array('i') of k * n_inputs, from a fixed LCG (same on every
    port): angle inputs over +-3 pi (Q12), affine inputs over +-10 units (Q`in_frac`)."""
    ni = p.n_inputs
    st = array("i", bytes(4 * k * ni))
    s = 12345
    for i in range(k):
        for t in range(ni):
            s = (s * 1103515245 + 12345) & 0x7FFFFFFF
            if p.in_kind[t]:
                st[i * ni + t] = (s % 77208) - 38604  # +-3 pi in Q12
            else:
                span = 20 << p.in_frac[t] if p.in_frac[t] < 26 else 0x7FFFFFFE
                st[i * ni + t] = (s % span) - span // 2
    return st, ni


def put(inp, states, j):
    """inp <- state j (of 64) of make_states()."""
    st, ni = states
    b = (j & 63) * ni
    for t in range(ni):
        inp[t] = st[b + t]


def exists(path):
    import os

    try:
        return os.stat(path)[6]
    except OSError:
        return -1


# ---- timing loops (allocation-free for allocation-free policies) --------------------------------------------
def _single(fn, inp, o, states, n, clk, hist, shift):
    """n calls, each timed alone; durations (clock units >> shift) into hist. Returns the max (units)."""
    mx = 0
    last = HBINS - 1
    for i in range(n):
        put(inp, states, i)
        t0 = clk()
        fn(inp, o)
        d = _ticks_diff(clk(), t0)
        if d > mx:
            mx = d
        b = d >> shift
        hist[b if b < last else last] += 1
    return mx


def _single_empty(inp, states, n, clk, hist, shift):
    last = HBINS - 1
    for i in range(n):
        put(inp, states, i)
        t0 = clk()
        d = _ticks_diff(clk(), t0)
        b = d >> shift
        hist[b if b < last else last] += 1


def _blocks(fn, inp, o, states, nb, block, clk, times):
    for b in range(nb):
        put(inp, states, b)
        t0 = clk()
        for _ in range(block):
            fn(inp, o)
        times[b] = _ticks_diff(clk(), t0)


def hist_pct(hist, n, pct):
    """Bin index holding the pct-th percentile of n samples."""
    want = (n * pct + 99) // 100
    if want < 1:
        want = 1
    acc = 0
    for i in range(len(hist)):
        acc += hist[i]
        if acc >= want:
            return i
    return len(hist) - 1


def median_of(arr):
    s = sorted(arr)
    return s[len(s) // 2]


BLOCK_US = 50  # a block lasts at least this long, so the clock's 1-unit step is small against it


def measure(fn, inp, o, states, n, warmup, block, clk, ps, budget_ms):
    """Latency of fn(inp, o) (see the module docstring). Returns a dict of ns values (ints).

    Blocks hold max(block, enough calls for BLOCK_US) calls; the empty loop's cost per iteration is measured
    over one long loop of as many iterations and subtracted from the per-call figures."""
    # cold: the very first call, timed alone
    put(inp, states, 0)
    t0 = clk()
    fn(inp, o)
    cold = _ticks_diff(clk(), t0)
    # warm-up, also sizes the histogram, the blocks and the budget
    w0 = _ticks_us()
    for _ in range(warmup):
        fn(inp, o)
    warm_us = _ticks_diff(_ticks_us(), w0)
    per_call_ns = warm_us * 1000 // warmup if warmup > 0 else cold * ps // 1000
    if budget_ms > 0 and per_call_ns > 0 and n * per_call_ns > budget_ms * 500000:
        n = max(BLOCK * 8, budget_ms * 500000 // per_call_ns)  # half the budget for each of the two runs
    # histogram resolution: keep ~4x the typical call inside HBINS bins
    typ = per_call_ns * 1000 // ps if per_call_ns > 0 else cold
    shift = 0
    while (typ * 4) >> shift >= HBINS:
        shift += 1
    hist = array("i", bytes(4 * HBINS))
    _single_empty(inp, states, 1000, clk, hist, shift)
    over_single = hist_pct(hist, 1000, 50) << shift
    for i in range(HBINS):
        hist[i] = 0
    gc.collect()
    mx = _single(fn, inp, o, states, n, clk, hist, shift)
    p50 = (hist_pct(hist, n, 50) << shift) - over_single
    p99 = (hist_pct(hist, n, 99) << shift) - over_single
    if per_call_ns > 0 and block * per_call_ns < BLOCK_US * 1000:
        block = (BLOCK_US * 1000 + per_call_ns - 1) // per_call_ns
    nb = n // block if n >= block * 32 else 32
    times = array("i", bytes(4 * nb))
    t0 = clk()
    for _ in range(nb * block):
        pass
    over_ps = _ticks_diff(clk(), t0) * ps // (nb * block)  # empty loop, per iteration
    gc.collect()
    _blocks(fn, inp, o, states, nb, block, clk, times)
    total = 0
    for t in times:
        total += t
    med_ps = median_of(times) * ps // block - over_ps
    mean_ps = total * ps // (nb * block) - over_ps

    def ns(units):
        return units * ps // 1000

    return {"n": n, "warmup": warmup, "block": block, "blocks": nb, "cold_ns": ns(cold), "p50_ns": ns(max(p50, 0)),
            "p99_ns": ns(max(p99, 0)), "max_ns": ns(mx), "median_ns": max(med_ps, 0) // 1000,
            "mean_ns": max(mean_ps, 0) // 1000, "overhead_ns": over_ps // 1000}


# ---- the policy ----------------------------------------------------------------------------------------------
def open_policy(path, cfg):
    """Policy.load with the --kernel and --max-bytes options (defaults when not given)."""
    from tinypolicy import Policy

    kw = {}
    if cfg["kernel"]:
        kw["kernel"] = cfg["kernel"]
    if cfg["max_bytes"]:
        kw["max_bytes"] = cfg["max_bytes"]
    return Policy.load(path, **kw)


def load_policy(path, cfg):
    """(policy, memory record). The blob is loaded twice: the first load's heap growth (`first_load_bytes`) also
    holds one-time costs (lazily imported code, interned names); `policy_bytes` is the second load's, what the
    policy itself holds."""
    gc.collect()
    before = gc.mem_alloc()
    p = open_policy(path, cfg)
    gc.collect()
    first = gc.mem_alloc() - before
    p = None
    gc.collect()
    before = gc.mem_alloc()
    t0 = _ticks_us()
    p = open_policy(path, cfg)
    load_us = _ticks_diff(_ticks_us(), t0)
    gc.collect()
    after = gc.mem_alloc()
    return p, {"blob_bytes": exists(path), "load_us": load_us, "heap_before": before, "heap_after": after,
               "policy_bytes": after - before, "first_load_bytes": first, "heap_free": gc.mem_free()}


def infer_api(p):
    """infer(floats) wrapped to the (inp, out) shape of infer_q: each int input / 2^in_frac in, a list out."""
    xs = [0.0] * p.n_inputs
    scale = [1 << f for f in p.in_frac]

    def call(inp, o):
        for t in range(len(xs)):
            xs[t] = inp[t] / scale[t]
        return p.infer(xs)

    return call


ACTIVATIONS = ("identity", "relu", "tanh", "hardtanh", "sigmoid")


def prefix_nets(p):
    """[(name, fn(inp, out)), ...]: the policy cut after its input stage (k = 0) and after each layer k = 1..L,
    through the public `Policy.run_layers(inp, k, out)` (k = L is infer_q itself).

    The per-stage breakdown is differential: stage k costs t(k) - t(k-1), with t(k) the time of the forward pass
    stopped after k layers, so every stage is timed inside the one real call (same call overhead, same buffers,
    same code). Names come from `Policy.layers` ((n_in, n_out, activation code) per layer)."""
    names = ["features"]
    fns = []
    for k in range(p.n_layers + 1):

        def fn(inp, o, k=k):
            p.run_layers(inp, k, o)

        fns.append(fn)
        if k:
            n_in, n_out, a = p.layers[k - 1]
            names.append("layer%d_%dx%d_%s" % (k, n_in, n_out, ACTIVATIONS[a] if a < len(ACTIVATIONS) else a))
    return [(names[i], fns[i]) for i in range(len(fns))]


def time_loop(fn, inp, o, n, clk):
    """Clock units for n calls of fn(inp, o) in one loop."""
    t0 = clk()
    for _ in range(n):
        fn(inp, o)
    return _ticks_diff(clk(), t0)


def stages(p, n, clk, ps, rounds=5):
    """Per-stage mean ns (see prefix_nets): each prefix timed over n calls, in `rounds` interleaved rounds, the
    median round kept. Returns [(name, stage_ns, cumulative_ns)]."""
    nets = prefix_nets(p)
    inp, o = buffers(p)
    put(inp, make_states(p), 1)
    per: list = [[] for _ in nets]
    for _ in range(rounds):
        for k in range(len(nets)):
            fn = nets[k][1]
            time_loop(fn, inp, o, n // 10 + 1, clk)  # warm
            per[k].append(time_loop(fn, inp, o, n, clk))
    res = []
    prev = 0
    for k in range(len(nets)):
        cum = median_of(per[k]) * ps // (1000 * n)
        res.append((nets[k][0], cum - prev, cum))
        prev = cum
    return res


def alloc_delta(fn, inp, o, states, n):
    """(calls, heap bytes allocated by them): gc.mem_alloc() delta over n calls of fn(inp, o) with automatic gc
    off; when that fills the heap (an allocating path), retried with a tenth of the calls."""
    want = n
    while True:
        try:
            b = _alloc_delta(fn, inp, o, states, n)
            break
        except MemoryError:
            gc.enable()
            gc.collect()
            if n <= 1:
                raise
            n = n // 10
    if n < want and b > 0:  # as many calls as fit in 3/4 of the free heap
        gc.collect()
        m = gc.mem_free() * 3 // 4 // (b // n + 1)
        if m > n:
            n = min(m, want)
            b = _alloc_delta(fn, inp, o, states, n)
    return n, b


def _alloc_delta(fn, inp, o, states, n):
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc()
        for i in range(n):
            put(inp, states, i)
            fn(inp, o)
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    gc.collect()
    return a1 - a0


def locked_ok(fn, inp, o, n):
    """1 if n calls ran under heap_lock() without MemoryError, 0 if one allocated, -1 if no heap_lock."""
    if micropython is None or not hasattr(micropython, "heap_lock"):
        return -1
    micropython.heap_lock()
    try:
        for _ in range(n):
            fn(inp, o)
        ok = 1
    except MemoryError:
        ok = 0
    finally:
        micropython.heap_unlock()
    return ok


def make_loop(p, period_ms=10):
    """The app's whole control step (tinypolicy_app.loop.ControlLoop) on the simulated pendulum with noise."""
    from tinypolicy_app.actuators import SimActuator
    from tinypolicy_app.logger import Ring
    from tinypolicy_app.loop import ControlLoop
    from tinypolicy_app.plant import Pendulum, to_q20
    from tinypolicy_app.sensors import Noise, PlantSensor

    plant = Pendulum(to_q20(3.141592653589793), 0, period_ms)
    loop = ControlLoop(p, PlantSensor(plant, Noise(0.01, 0.01, 1)), SimActuator(plant), plant, Ring(128),
                       period_ms, 1, 8192)
    return loop


def buffers(p):
    """(inp, out): array('i') of n_inputs and of the widest layer (run_layers writes a layer's activations)."""
    return array("i", bytes(4 * p.n_inputs)), array("i", bytes(4 * max(p.widths)))


def count_only(path, cfg):
    """Section `count` (for instruction counting under valgrind, see benchmarks/mem_profile.md): load, then n
    plain infer_q calls with varying inputs, no timing. Run with two n and difference the instruction totals."""
    p = open_policy(path, cfg)
    inp, o = buffers(p)
    states = make_states(p)
    f = p.infer_q
    for i in range(cfg["n"]):
        put(inp, states, i)
        f(inp, o)
    out("count", dtype=cfg["label"], kernel=p.kernel, n=cfg["n"], last=o[0])


def bench_blob(path, label, cfg, clk, ps):
    """Every selected section for one blob; records are labelled dtype=<label>."""
    sections = cfg["sections"]
    cfg["label"] = label
    if "count" in sections:
        try:
            count_only(path, cfg)
        except Exception as exc:  # noqa: BLE001
            err("count", repr(exc), dtype=label)
        return
    try:
        p, mem = load_policy(path, cfg)
    except Exception as exc:  # noqa: BLE001 - report and go on with the next blob
        err("load", "%s: %r" % (label, exc), dtype=label)
        return
    kern = p.kernel
    if "memory" in sections:
        out("memory", dtype=label, kernel=kern, model=path, **mem)
    inp, o = buffers(p)
    states = make_states(p)
    n, warmup, block, budget = cfg["n"], cfg["warmup"], cfg["block"], cfg["budget_ms"]
    slow = p.dtype == "f32" or kern == "portable"
    if "latency" in sections:
        try:
            r = measure(p.infer_q, inp, o, states, n, warmup, block, clk, ps, budget)
            out("latency", dtype=label, kernel=kern, api="infer_q", **r)
        except Exception as exc:  # noqa: BLE001
            err("latency", repr(exc), dtype=label, api="infer_q")
        try:
            r = measure(infer_api(p), inp, o, states, max(n // 10, 200), max(warmup // 10, 20), block, clk, ps,
                        budget)
            out("latency", dtype=label, kernel=kern, api="infer", **r)
        except Exception as exc:  # noqa: BLE001
            err("latency", repr(exc), dtype=label, api="infer")
    if "stage" in sections:
        try:
            m = max(n // 40, 50) if slow else max(n // 4, 100)
            for name, ns_, cum in stages(p, m, clk, ps):
                out("stage", dtype=label, kernel=kern, stage=name, n=m, mean_ns=ns_, cumulative_ns=cum)
        except Exception as exc:  # noqa: BLE001
            err("stage", repr(exc), dtype=label)
    if "alloc" in sections:
        try:
            m, b = alloc_delta(p.infer_q, inp, o, states, n)
            out("alloc", dtype=label, kernel=kern, what="infer_q", n=m, bytes=b,
                locked_ok=locked_ok(p.infer_q, inp, o, 100))
        except Exception as exc:  # noqa: BLE001
            err("alloc", repr(exc), dtype=label, what="infer_q")
    if "tick" in sections and p.n_inputs == 2 and p.n_outputs == 1 and not p.argmax:
        try:
            loop = make_loop(p)

            def step(_i, _o):
                loop.batch_step()

            m, b = alloc_delta(step, inp, o, states, n)
            out("alloc", dtype=label, kernel=kern, what="tick", n=m, bytes=b, locked_ok=locked_ok(step, inp, o, 100))
            loop = make_loop(p)
            t = measure(step, inp, o, states, max(n // 4, 100), max(warmup // 4, 10), block, clk, ps, budget)
            out("tick", dtype=label, kernel=kern, **t)
        except Exception as exc:  # noqa: BLE001
            err("tick", repr(exc), dtype=label)
    p = None
    gc.collect()


APP_MODULES = ("tinypolicy_app.logger", "tinypolicy_app.plant", "tinypolicy_app.sensors", "tinypolicy_app.actuators",
               "tinypolicy_app.loop", "tinypolicy_app.config", "tinypolicy_app.ticker", "tinypolicy_app.app")


def heap_imports(base):
    """`heap` records: heap held by imported code (bytecode / native code of .py or .mpy modules lives in RAM
    unless frozen into the firmware), as gc.mem_alloc() growth after gc.collect(): the runtime package as a
    whole, then each control-app module in turn (a module's figure includes dependencies not imported before)."""
    out("heap", stage="script", bytes=base, total=base)
    prev = base
    for stage in ("tinypolicy",) + APP_MODULES:
        try:
            __import__(stage)
            if stage == "tinypolicy":
                from tinypolicy import Policy  # noqa: F401
        except ImportError:
            continue
        gc.collect()
        now = gc.mem_alloc()
        out("heap", stage=stage, bytes=now - prev, total=now)
        prev = now


def parse_args(argv):
    cfg = {"n": N, "warmup": WARMUP, "block": BLOCK, "budget_ms": BUDGET_MS, "dtypes": DTYPES, "models": MODELS,
           "sections": SECTIONS, "blobs": (), "kernel": KERNEL, "max_bytes": MAX_BYTES}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--") or i + 1 >= len(argv):
            raise ValueError("usage: device_bench.py [--n N] [--warmup W] [--block B] [--budget-ms MS] "
                             "[--dtypes f32,int8,q15] [--models DIR] [--blobs A.bin,B.bin] [--kernel viper|portable] "
                             "[--max-bytes B] [--sections memory,latency,...]")
        key = a[2:].replace("-", "_")
        v = argv[i + 1]
        if key in ("n", "warmup", "block", "budget_ms", "max_bytes"):
            cfg[key] = int(v)
        elif key in ("dtypes", "sections", "blobs"):
            cfg[key] = tuple(x for x in v.split(",") if x)
        elif key in ("models", "kernel"):
            cfg[key] = v
        else:
            raise ValueError("unknown option " + a)
        i += 2
    return cfg


def main(argv):
    cfg = parse_args(argv)
    port = sys.platform
    if cfg["budget_ms"] == 0 and port != "linux":  # a board: the float path can take ms per call
        cfg["budget_ms"] = 10000
    if "count" in cfg["sections"]:  # no clock calibration: its busy-wait would vary the instruction count
        clk, clock_name, ps = _ticks_us, "ticks_us", 1000000
    else:
        clk, clock_name, ps = pick_clock()
    gc.collect()
    impl = sys.implementation
    ver = ".".join(str(x) for x in impl.version[:3])
    out("info", port=port, impl=impl.name, version=ver, machine=getattr(impl, "_machine", "?"),
        heap_total=gc.mem_alloc() + gc.mem_free(), clock=clock_name, clock_ps=ps,
        n=cfg["n"], warmup=cfg["warmup"], block=cfg["block"], budget_ms=cfg["budget_ms"])
    gc.collect()
    base = gc.mem_alloc()
    try:
        import tinypolicy  # noqa: F401
    except ImportError as exc:
        err("import", "tinypolicy: %r" % (exc,))
        return 1
    for mod in ("tinypolicy.kernels", "tinypolicy.portable"):  # loaded lazily by Policy; here, so that policy
        try:  # RAM is the policy's own
            __import__(mod)
        except (ImportError, SyntaxError, ValueError):  # no native emitter: no viper kernel
            pass
    if "memory" in cfg["sections"]:
        heap_imports(base)
    for path in cfg["blobs"]:
        bench_blob(path, path, cfg, clk, ps)
    for dtype in () if cfg["blobs"] else cfg["dtypes"]:
        bench_blob("%s/policy_%s.bin" % (cfg["models"], dtype), dtype, cfg, clk, ps)
    print("# done")
    return 0


if __name__ == "__main__":
    _argv = [a for a in sys.argv[1:] if a]
    _rc = main(_argv)
    if sys.platform == "linux" and _rc:
        sys.exit(_rc)
