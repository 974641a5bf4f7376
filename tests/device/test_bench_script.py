# heapsize: 512K
# device: device/bench/device_bench.py runs every section on every shipped and golden blob (both integer
# kernels) without an error record: it uses the public Policy API only (no private fields, no blob offsets).
import sys

from golden import entries

sys.path.append("device/bench")
import device_bench  # noqa: E402


def _run(args):
    records = []
    errors = []
    device_bench.out = lambda record, **kv: records.append((record, kv))
    device_bench.err = lambda section, msg, **kv: errors.append((section, msg))
    assert device_bench.main(args) == 0
    return records, errors


def test_bench_runs_on_every_golden_blob():
    blobs = ",".join(e["blob"] for _net, e in entries() if e["bytes"] <= 32768)
    for kernel in ("viper", "portable"):
        records, errors = _run(["--n", "40", "--warmup", "4", "--block", "4", "--blobs", blobs, "--kernel", kernel,
                                "--sections", "memory,latency,stage,alloc,tick"])
        assert not errors, errors
        lat = [kv for r, kv in records if r == "latency" and kv["api"] == "infer_q"]
        assert len(lat) == blobs.count(",") + 1, len(lat)
        assert all(kv["kernel"] in (kernel, "float") for kv in lat), lat
        stages = [kv["stage"] for r, kv in records if r == "stage"]
        assert "layer1_12x10_sigmoid" in stages or "layer2_12x10_hardtanh" in stages, stages
        locked = [kv for r, kv in records if r == "alloc" and kv["what"] == "infer_q" and kv["kernel"] == kernel]
        assert locked and all(kv["locked_ok"] == 1 and kv["bytes"] == 0 for kv in locked), locked
        assert [kv for r, kv in records if r == "tick"], "no control-tick record for the pendulum"


def test_bench_default_models():
    records, errors = _run(["--n", "40", "--warmup", "4", "--block", "4", "--sections", "latency"])
    assert not errors, errors
    assert sorted(kv["dtype"] for r, kv in records if r == "latency" and kv["api"] == "infer_q") == [
        "f32", "int8", "q15"]
