"""`make fuzz`: the full fuzz campaigns of issue 11; figures to benchmarks/fuzz.md (tests/test_fuzz.py is the quick
slice of the same kits in `make test`).

    .venv/bin/python tools/fuzz.py [--blobs 5000] [--configs 400] [--replays 300] [--links 8] [--seed 1]
                                   [--out benchmarks/fuzz.md]

Campaigns: mutated blobs through the host reader and the device loader (tests/blobfuzz.py); hostile configs and
replay files through the app (tests/appfuzz.py); byte noise and kills on the virtual board's link
(tests/linkfuzz.py); a flash of the real app killed after every one of its file operations on the virtual board
(tests/flashkill.py). Every section states whether its goals are met; exit status 1 when any goal is missed.
"""
import argparse
import collections
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import appfuzz  # noqa: E402
import blobfuzz  # noqa: E402
import flashkill  # noqa: E402
import linkfuzz  # noqa: E402
from blobfuzz import corpus  # noqa: E402

from tinypolicy_host.devtools.vboard import VBoardProcess  # noqa: E402


def slash(*values) -> str:
    return " / ".join(str(v) for v in values)


def blobs(n, seed, work):
    t0 = time.monotonic()
    mutants = corpus(blobfuzz.mutants(), n, seed)
    host = [blobfuzz.host_verdict(m.data) for m in mutants]
    device = blobfuzz.run_device([m.data for m in mutants], work / "blobs")
    acc = [d for d in device if d.verdict == "accept"]
    differ = [(m, h, d) for m, h, d in zip(mutants, host, device, strict=True)
              if (h[0] == "accept") != (d.verdict == "accept")]
    kinds = collections.Counter(m.what.split()[0] for m in mutants)
    f = {
        "blobs": len(mutants), "mutation kinds": dict(kinds),
        "host: accepted / rejected / other exceptions": slash(
            *(sum(h[0] == k for h in host) for k in ("accept", "reject", "crash"))),
        "device: accepted / ModelError / MemoryError / other exceptions": slash(
            *(sum(d.verdict == k for d in device) for k in ("accept", "reject", "memory", "crash"))),
        "device: outputs checked on the accepted blobs (infer_q and infer; int8 / q15 on the viper and the "
        "portable kernel)": sum(d.outputs for d in acc),
        "device: outputs outside the declared range / blobs with any": slash(
            sum(d.outside for d in acc), sum(d.outside > 0 for d in acc)),
        "device: NaN outputs / blobs with any": slash(sum(d.nan for d in acc), sum(d.nan > 0 for d in acc)),
        "device: exceptions running an accepted blob (blobs; also counted: kernels disagreeing, a write past "
        "the outputs, a non-finite input not raising ValueError)": sum(bool(d.run_errors) for d in acc),
        "host and device disagree (accept vs reject)": len(differ),
        "  host accepts, device rejects": sum(h[0] == "accept" for _, h, _ in differ),
        "  device accepts, host rejects": sum(d.verdict == "accept" for _, _, d in differ),
        "seconds": round(time.monotonic() - t0, 1),
    }
    examples = [f"{m.base}: {m.what} -> host {h[0]}, device {d.verdict}" for m, h, d in differ[:5]]
    examples += [f"{m.base}: {m.what} -> {d.run_errors}" for m, d in zip(mutants, device, strict=True)
                 if d.verdict == "accept" and (d.nan or d.outside or d.run_errors)][:5]
    examples += [f"{m.base}: {m.what} -> {h[1]}" for m, h in zip(mutants, host, strict=True) if h[0] == "crash"][:5]
    examples += [f"{m.base}: {m.what} -> {d.text}" for m, d in zip(mutants, device, strict=True)
                 if d.verdict == "crash"][:5]
    ok = (all(h[0] != "crash" for h in host) and all(d.verdict != "crash" for d in device) and not differ
          and all(not (d.nan or d.outside or d.run_errors) for d in acc) and len(acc) > 0)
    return f, examples, ok


def configs(n, seed, work):
    t0 = time.monotonic()
    texts = corpus(appfuzz.config_texts(), n, seed)
    paths = []
    for k, text in enumerate(texts):
        paths.append(work / "configs" / f"c{k}.json")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        paths[-1].write_bytes(text)
    outputs = []
    for start in range(0, n, 100):  # a fresh process per 100 runs
        outputs += appfuzz.run_app([["--config", str(p), *appfuzz.SHORT] for p in paths[start:start + 100]],
                                   work / f"configs_run{start}")
    problems = [(texts[k][:60], p) for k, out in enumerate(outputs) for p in appfuzz.check_run(out)]
    verdicts = [(appfuzz.device_config_verdict(o), appfuzz.host_config_verdict(p))
                for p, o in zip(paths, outputs, strict=True)]
    differ = [texts[k][:60] for k, (d, h) in enumerate(verdicts)
              if d != "memory" and (d == "accept") != (h == "accept")]
    f = {"config files": n, "accepted by the device": sum(d == "accept" for d, _ in verdicts),
         "rejected (one error line, safe state)": sum(d == "reject" for d, _ in verdicts),
         "did not fit the 256K fuzz heap (error line)": sum(d == "memory" for d, _ in verdicts),
         "runs with a traceback or a broken log": len(problems), "host `flash` check and device disagree": len(differ),
         "seconds": round(time.monotonic() - t0, 1)}
    return f, [str(p) for p in problems[:5]] + differ[:5], not problems and not differ


def replays(n, seed, work):
    t0 = time.monotonic()
    files = corpus(appfuzz.replay_files(), n, seed)
    runs = []
    for k, data in enumerate(files):
        path = work / "replays" / f"r{k}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        runs.append(["--sensor", "replay", "--replay-input", str(path), "--model", "models/policy_int8.bin"])
    outputs = []
    for start in range(0, n, 100):
        outputs += appfuzz.run_app(runs[start:start + 100], work / f"replays_run{start}")
    problems = [(files[k][:40], p) for k, out in enumerate(outputs) for p in appfuzz.check_run(out)]
    f = {"replay files": n, "rejected with one error line": sum("# error: replay_input: " in o for o in outputs),
         "replayed": sum("# error: replay_input: " not in o for o in outputs),
         "runs with a traceback or a broken log": len(problems), "seconds": round(time.monotonic() - t0, 1)}
    return f, [str(p) for p in problems[:5]], not problems


def links(n, seed, work):
    t0 = time.monotonic()
    fs = work / "link_fs"
    fs.mkdir(parents=True)
    linkfuzz.real_app(fs, {"mode": "realtime", "duration_s": 2, "warmup": 0})
    results = []
    with VBoardProcess(fs, work / "link_port", run_main=False) as vb:
        for k in range(n):
            kill = 1.0 + 0.25 * (k // 3) if k % 3 == 2 else None  # within the 2 s run
            results.append(linkfuzz.noisy_run(vb.port, work / f"link{k}.csv", seed + k, kill_after=kill))
    problems = [(k, p) for k, s in enumerate(results) for p in linkfuzz.check(s)]
    clean = [s for s in results if not s["killed"]]
    f = {"monitored runs (noise on ~10 % of the lines: 0x03 / 0x04 / any byte; stray Ctrl-C to the board)": len(clean),
         "lines hit by noise": sum(s["hit_lines"] for s in clean),
         "stray Ctrl-C bytes sent to the board": sum(s["stray_ctrl_c_sent"] for s in clean),
         "untouched rows / lost": slash(sum(s["good_rows"] for s in clean),
                                         sum(s["lost_good_rows"] for s in clean)),
         "clean runs not ending normally": sum(not s["reason"].startswith(("done", "duration")) for s in clean),
         "runs with the link killed mid-run / exit status 1 (cut short)": slash(
             n - len(clean), sum(s["cut_short"] for s in results if s["killed"])),
         "runs whose kill came after the capture ended (counted as clean)": sum(
             1 for k, s in enumerate(results) if k % 3 == 2 and not s["killed"]),
         "seconds": round(time.monotonic() - t0, 1)}
    return f, [str(p) for p in problems[:5]], not problems


def flash_kills(work):
    """The real app (x64 .mpy): flash version A, then flash version B killed after every file operation."""
    from tinypolicy_host.paths import DEVICE

    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "mpy"], cwd=REPO, check=True,
                   capture_output=True)
    fs = work / "flash_fs"
    cfgs = {}
    for name, seed in (("a", 1), ("b", 2)):
        cfgs[name] = work / f"config_{name}.json"
        cfgs[name].write_text('{"mode": "batch", "duration_s": 0.05, "warmup": 0, "seed": ' + str(seed) + "}")
    unbootable, states = [], collections.Counter()
    with VBoardProcess(fs, work / "flash_port", run_main=False) as vb:
        flashkill.run(vb.port, config_path=cfgs["a"])
        before = work / "flash_before"
        flashkill.snapshot(fs, before)
        steps = flashkill.count_steps(vb.port, fs, before, config_path=cfgs["b"])
        for k, what, booted in flashkill.killed_flashes(vb.port, fs, before, range(len(steps)),
                                                        config_path=cfgs["b"]):
            state = "a" if " seed=1 " in booted else "b" if " seed=2 " in booted else None
            ok = state is not None and "# info: done" in booted and "Traceback" not in booted
            states[state or "unbootable"] += 1
            if not ok:
                unbootable.append(f"after step {k} ({what}): {booted[-300:]!r}")
        s = flashkill.run(vb.port, config_path=cfgs["b"])  # and the next flash completes
        final = flashkill.boot(fs)
    f = {"file operations in one flash (real app, x64 .mpy)": len(steps),
         "flashes killed after each of them": sum(states.values()),
         "then booted the old version / the new one / neither": slash(
             states["a"], states["b"], states["unbootable"]),
         "the next flash completes and boots the new version": " seed=2 " in final and s["version"] is not None,
         "seconds": round(time.monotonic() - t0, 1)}
    assert DEVICE.is_dir()
    return f, unbootable[:5], not unbootable and " seed=2 " in final


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blobs", type=int, default=5000)
    ap.add_argument("--configs", type=int, default=400)
    ap.add_argument("--replays", type=int, default=300)
    ap.add_argument("--links", type=int, default=9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "fuzz.md")
    args = ap.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="tinypolicy-fuzz-"))
    sections, all_ok = [], True
    try:
        for title, fn in (("Blob mutations: host reader, device loader and runtime",
                           lambda: blobs(args.blobs, args.seed, work)),
                          ("Hostile config files through the app", lambda: configs(args.configs, args.seed, work)),
                          ("Hostile replay files through the app", lambda: replays(args.replays, args.seed, work)),
                          ("Serial link: noise and kills (monitor <-> virtual board)",
                           lambda: links(args.links, args.seed, work)),
                          ("Flash killed at every file boundary (virtual board)", lambda: flash_kills(work))):
            print(f"fuzz: {title} ...", flush=True)
            figures, examples, ok = fn()
            all_ok &= ok
            sections.append((title, figures, examples, ok))
            print(f"fuzz:   {'ok' if ok else 'GOAL MISSED'} {figures}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = io.StringIO()
    out.write("# Fuzz figures (issue 11)\n\n")
    out.write(f"From `make fuzz` (`{' '.join(['tools/fuzz.py', *(argv or sys.argv[1:])])}`) at commit {commit}, "
              f"seed {args.seed}; unix MicroPython port. The quick slice of the same kits runs in `make test` "
              "(tests/test_fuzz.py). Goals: 0 exceptions other than ModelError/MemoryError from the loader; 0 outputs "
              "outside the declared range; 0 NaN outputs; host and device accept the same blobs; 0 tracebacks from "
              "the app on hostile files and flags; every good row kept under noise; 0 unbootable states after a "
              "killed flash. Each accepted blob runs infer_q and infer (tests/mp_blob_check.py) on int32 and float "
              "input vectors, in range and extreme (int32 limits, up to 1e300), and non-finite inputs; every output "
              "is checked against the range its file declares.\n\n")
    missed = [title for title, _f, _e, ok in sections if not ok]
    out.write(f"**{'All goals met.' if not missed else 'Goals NOT met in: ' + '; '.join(missed) + '.'}**\n\n")
    for title, figures, examples, ok in sections:
        verdict = "goals met" if ok else "goals NOT met"
        out.write(f"## {title}: {verdict}\n\n| figure | value |\n|---|---|\n")
        for k, v in figures.items():
            out.write(f"| {k} | {v} |\n")
        if examples:
            out.write("\nExamples:\n\n" + "".join(f"- `{e}`\n" for e in examples))
        out.write("\n")
    args.out.write_text(out.getvalue())
    print(f"fuzz: figures written to {args.out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
