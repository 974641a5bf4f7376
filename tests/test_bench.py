"""Smoke test of `tinypolicy bench --quick`: it runs end to end, every section it runs succeeds (bench reports a
failed section as "skipped" and still exits 0) and writes well-formed outputs with data in them. It does not check
that anything is fast (timing is not asserted in tests; benchmarks/RESULTS.md reports it)."""
import csv
import math
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tinypolicy_host.bench.device import parse_lines
from tinypolicy_host.cli import main
from tinypolicy_host.paths import REPO

CSV_FILES = {
    "latency.csv": ["engine", "dtype", "api", "n", "cold_ns", "p50_ns", "p99_ns", "max_ns", "median_ns", "mean_ns"],
    "ratios.csv": ["ratio", "by_median", "by_mean", "goal", "met"],
    "stages.csv": ["dtype", "stage", "n", "mean_ns", "cumulative_ns"],
    "memory.csv": None,
    "heap_imports.csv": ["stage", "bytes", "total"],
    "code_size.csv": ["arch", "file", "bytes"],
    "blobs.csv": ["file", "bytes"],
    "tick_timing.csv": None,
    "host.csv": ["item", "seconds", "source"],
    "machine.csv": ["key", "value"],
    "sections.csv": ["section", "status", "seconds", "reason"],
}
NUMERIC = {"n", "cold_ns", "p50_ns", "p99_ns", "max_ns", "median_ns", "mean_ns", "bytes", "by_median", "by_mean",
           "lateness_p50_us", "lateness_p99_us", "lateness_max_us", "overruns", "policy_bytes", "blob_bytes"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "-m", "tinypolicy_host.cli", "bench", "--quick", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out, proc


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def read_dicts(path):
    rows = read_csv(path)
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_quick_writes_every_table(quick_run):
    out, _ = quick_run
    for name, cols in CSV_FILES.items():
        rows = read_csv(out / "results" / name)
        assert rows, f"{name}: empty (no header)"
        header = rows[0]
        if cols:
            assert all(c in header for c in cols), (name, header)
        for i, row in enumerate(rows[1:], 2):
            assert len(row) == len(header), f"{name} line {i}: {len(row)} fields, header has {len(header)}"
            for col, val in zip(header, row, strict=True):
                if col in NUMERIC and val != "":
                    assert not math.isnan(float(val)), f"{name} line {i}: {col}={val!r}"


def test_quick_measures_what_it_can(quick_run):
    out, _ = quick_run
    results = out / "results"
    sections = {r["section"]: r for r in read_dicts(results / "sections.csv")}
    # --quick leaves out instr, train, demo and cycles
    assert set(sections) == {"device", "c", "host", "scaling", "size", "tick"}
    # a failing section is written as "skipped" with its reason and bench still exits 0: every one must be ok
    failed = {name: r["reason"] for name, r in sections.items() if r["status"] != "ok"}
    assert not failed, failed
    latency = read_dicts(results / "latency.csv")
    engines = {(r["engine"], r["dtype"]) for r in latency}
    assert {("micropython", "int8"), ("c", "int8"), ("c", "q15"), ("onnxruntime", "f32")} <= engines, engines
    mp_int8 = [r for r in latency if (r["engine"], r["dtype"], r["api"]) == ("micropython", "int8", "infer_q")]
    assert mp_int8 and int(mp_int8[0]["n"]) > 0 and float(mp_int8[0]["median_ns"]) > 0, mp_int8
    assert all("0 mismatches" in r["note"] for r in latency if r["engine"] == "c")  # the contract's arithmetic
    assert "int8" in {r["dtype"] for r in read_dicts(results / "memory.csv")}
    ticks = read_dicts(results / "tick_timing.csv")
    assert ticks and all(int(r["ticks"]) > 0 for r in ticks), ticks
    code = read_csv(out / "results" / "code_size.csv")
    assert {r[0] for r in code[1:]} == {"armv6m", "xtensawin", "rv32imc", "armv7emsp", "x64"}


def test_quick_report(quick_run):
    out, proc = quick_run
    md = (out / "RESULTS.md").read_text()
    for heading in ("## Machine", "## Headline ratios", "## Inference latency", "## Memory", "## Code size",
                    "## Tick timing", "## Host"):
        assert heading in md
    assert "Quick smoke run" in md and "git_commit" not in md and "commit `" in md
    assert "bench: wrote" in proc.stdout


def test_parse_device_lines():
    recs = parse_lines(["# comment", "BENCH latency dtype=int8 api=infer_q n=10 median_ns=2270",
                        "noise", "BENCH error section=stage msg=no_hook"])
    assert recs == [{"record": "latency", "dtype": "int8", "api": "infer_q", "n": 10, "median_ns": 2270},
                    {"record": "error", "section": "stage", "msg": "no_hook"}]


@pytest.mark.parametrize("argv", [["--periods", "3"], ["--only", "nope"], ["--n", "5"]])
def test_bad_options_are_one_error_line(argv, capsys):
    assert main(["bench", "--quick", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


# ---- the scaling table's pieces on tiny nets (bench/scaling.py, bench/tflm.py): runs in well under a minute ----
TINY = (("tiny a", [4, 8, 8, 2]), ("tiny b", [6, 24, 24, 3]))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tinypolicy_host.bench import ref, scaling

    folder = tmp_path_factory.mktemp("scaling")
    binary, _ = ref.build_c(folder / "mlp_ref")
    return scaling.build_nets(TINY, folder), binary


def test_scaled_nets_c_loop_matches_reference(tiny):
    from tinypolicy_host.bench import ref, scaling

    nets, binary = tiny
    for net in nets:
        assert set(net.blobs) == set(scaling.SCHEMES)
        for scheme, blob in net.blobs.items():
            model = net.models[scheme]
            rows = scaling.test_rows(net)
            if scheme != "f32":
                rows = model.quantize_inputs(rows)
            bad, diff = ref.check_c_blob(binary, blob, rows)
            assert bad == 0, (net.name, scheme, bad, diff)
            if scheme != "f32":
                assert diff == 0, (net.name, scheme, diff)  # bit-exact to QuantMLP.forward_q
                # the outputs move with the inputs (a constant net would pass any comparison)
                assert len({tuple(r) for r in model.forward_q(rows).tolist()}) > len(rows) // 4
            else:
                assert diff < 1e-4, (net.name, diff)  # single vs double precision


def test_tflm_net_agrees_with_float(tiny):
    pytest.importorskip("tflite_micro")
    from tinypolicy_host.bench import scaling, tflm

    nets, _ = tiny
    for net in nets:
        data, info = tflm.build_tflite(net.spec, net.calib)
        rows = scaling.domain_rows(net, 300)
        agree = tflm.agreement(net.spec, data, info, rows, net.models["w8a8"])
        assert agree["max_abs_diff_vs_float_lsb"] <= 4 and agree["mean_abs_diff_vs_float_lsb"] < 1, agree
        got = tflm.run_rows(tflm.interpreter(data), tflm.quantize_features(net.spec, rows, info))
        assert got.std(axis=0).min() > 3, "TFLM outputs barely move: the comparison would be vacuous"


def test_instruction_counts_grow_with_net_size(tiny):
    """C loop, viper (unix port) and TFLM Invoke: callgrind at two call counts, differenced."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    pytest.importorskip("tflite_micro")
    from tinypolicy_host.bench import ref, tflm
    from tinypolicy_host.paths import BUILD

    nets, binary = tiny
    variant = "mpy" if (BUILD / "mpy" / "x64" / "tinypolicy").is_dir() else "src"
    jobs = []
    for net in nets:
        blob = net.blobs["w8a8"]
        path = blob.with_suffix(".tflite")
        path.write_bytes(tflm.build_tflite(net.spec, net.calib)[0])
        jobs += [(net.name, "c", lambda b=blob: ref.c_instructions(binary, b, 100, 1100)),
                 (net.name, "viper", lambda b=blob: ref.device_instructions(20, 220, variant, blob=b,
                                                                            kernel="viper")),
                 (net.name, "tflm", lambda p=path: tflm.instructions_per_invoke(p, 10, 110, whole=False)["invoke"])]
    with ThreadPoolExecutor(2) as pool:
        counts = dict(zip([(n, e) for n, e, _ in jobs], pool.map(lambda j: j[2](), jobs), strict=True))
    for engine in ("c", "viper", "tflm"):
        small, large = counts[("tiny a", engine)], counts[("tiny b", engine)]
        assert 0 < small < large, (engine, small, large)
    macs = [net.macs for net in nets]
    assert counts[("tiny b", "c")] - counts[("tiny a", "c")] >= macs[1] - macs[0]  # at least one per extra MAC
