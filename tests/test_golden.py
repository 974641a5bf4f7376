"""The committed golden vectors (tests/data/golden/manifest.json) are exactly what the host integer reference
computes from the committed blobs, and the device (unix port, one process) reproduces every integer row bit for
bit and every f32 row within the manifest's tolerance."""
import json

import numpy as np
import pytest

from devrun import run_micropython
from tinypolicy_host.contract.blob import read_blob
from tinypolicy_host.contract.reference import QuantMLP
from tinypolicy_host.export import golden as G
from tinypolicy_host.paths import REPO

MANIFEST = json.loads((REPO / "tests/data/golden/manifest.json").read_text())
ENTRIES = [(net, b) for net in MANIFEST["nets"] for b in net["blobs"]]
IDS = [f"{net['name']}-{b['scheme']}" for net, b in ENTRIES]


def test_manifest_lists_every_net_and_scheme():
    names = {net["name"] for net in MANIFEST["nets"]}
    assert {"pendulum", "tanh", "hardtanh_sigmoid", "multi", "argmax", "tanh_out", "wide"} <= names
    schemes = {(net["name"], b["scheme"]) for net, b in ENTRIES}
    assert ("pendulum", "w8a16") in schemes and ("wide", "w8a16") in schemes and ("argmax", "q15") in schemes
    pend = next(net for net in MANIFEST["nets"] if net["name"] == "pendulum")
    assert {b["scheme"]: b["blob"] for b in pend["blobs"]}["w8a16"] == "models/policy_int8.bin"


@pytest.mark.parametrize("net,entry", ENTRIES, ids=IDS)
def test_golden_matches_reference(net, entry):
    model = read_blob(REPO / entry["blob"], max_bytes=1 << 20)
    text = (REPO / entry["golden"]).read_text()
    rows = np.loadtxt(text.splitlines()[1:], delimiter=",", ndmin=2)
    n = net["n_inputs"]
    if isinstance(model, QuantMLP):
        assert entry["in_frac"] == model.in_frac and entry["out_frac"] == model.out_frac
        xq = rows[:, :n].astype(np.int64)
        assert text == G.golden_table(model, xq)
        assert len(rows) >= 400 or net["name"] in ("tanh_out",)
    else:
        assert text == G.golden_f32_table(model, rows[:, :n].astype(np.float32))


def test_golden_rows_are_rich():
    pend = next(net for net in MANIFEST["nets"] if net["name"] == "pendulum")
    rows = np.loadtxt(REPO / pend["blobs"][0]["golden"], delimiter=",", skiprows=1, dtype=np.int64)
    torque = rows[:, 2]
    assert (torque == 8192).any() and (torque == -8192).any() and (np.abs(torque) < 8192).sum() >= 250
    assert rows[:, 0].min() == -(2**31) and rows[:, 0].max() == 2**31 - 1
    argmax = next(net for net in MANIFEST["nets"] if net["name"] == "argmax")
    classes = np.loadtxt(REPO / argmax["blobs"][1]["golden"], delimiter=",", skiprows=1, dtype=np.int64)[:, -1]
    assert set(classes.tolist()) >= {0, 1, 2, 3, 4} or len(set(classes.tolist())) >= 3


DEVICE_REPLAY = r'''
import json
from array import array
from tinypolicy import Policy
m = json.load(open("tests/data/golden/manifest.json"))
for net in m["nets"]:
    n, k = net["n_inputs"], net["n_outputs"]
    inp = array("i", [0] * n)
    out = array("i", [0] * k)
    for b in net["blobs"]:
        p = Policy.load(b["blob"], max_bytes=b.get("max_bytes", 98304))
        bad = rows = 0
        worst = 0.0
        with open(b["golden"]) as f:
            f.readline()
            for line in f:
                rows += 1
                if b["scheme"] == "f32":
                    v = [float(x) for x in line.split(",")]
                    got = p.infer(v[:n])
                    for j in range(k):
                        err = abs(got[j] - v[n + j])
                        worst = max(worst, err)
                        if err > b["atol"] + b["rtol"] * abs(v[n + j]):
                            bad += 1
                    continue
                v = [int(x) for x in line.split(",")]
                for i in range(n):
                    inp[i] = v[i]
                p.infer_q(inp, out)
                if list(out) != v[n:]:
                    bad += 1
        print(net["name"], b["scheme"], rows, bad, worst)
'''


def test_device_replays_every_golden_file(tmp_path):
    script = tmp_path / "replay.py"
    script.write_text(DEVICE_REPLAY)
    proc = run_micropython([script], heapsize="1M", timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert len(lines) == len(ENTRIES), proc.stdout
    for name, scheme, rows, bad, _worst in lines:
        assert int(rows) >= 100 and int(bad) == 0, (name, scheme, rows, bad)
