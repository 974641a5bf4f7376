"""Every path of the viper kernel against the host integer reference, on blobs derived from the shipped int8 policies
(w8a16 and w8a8):
the pointer-walking int8 loops (signed inputs, inputs known >= 0 after relu, n_in not a multiple of 4) and
the general int8 loop with a product shift p > 0, which the shipped models never use. Device side: batch mode on
the unix port, from source and from the x64 .mpy build."""

import copy

import numpy as np
import pytest

from devrun import run_micropython
from tinypolicy_host.contract.blob import read_blob, write_blob
from tinypolicy_host.paths import MODELS


def _states(n=1500, seed=11):
    rng = np.random.default_rng(seed)
    theta = np.concatenate([rng.integers(-40000, 40000, n), [0, 12868, -12868, 25736]])
    theta_dot = np.concatenate([rng.integers(-140000, 140000, n), [0, 131072, -131072, 7]])
    return theta, theta_dot


def _device_torques(tmp_path, blob, variant, theta, theta_dot):
    inp, out = tmp_path / "in.csv", tmp_path / "out.csv"
    inp.write_text("".join(f"{int(t) / 4096!r},{int(w) / 4096!r}\n" for t, w in zip(theta, theta_dot, strict=True)))
    proc = run_micropython(["-m", "tinypolicy", "batch", "--model", blob, "--input", inp, "--output", out],
                           variant=variant)
    assert proc.returncode == 0, proc.stderr
    return np.array([int(line.split(",")[1]) for line in out.read_text().splitlines()[1:]])


def _variants():
    base = read_blob(MODELS / "policy_int8.bin")  # w8a16
    shifted = copy.deepcopy(base)  # general int8 loop: products shifted right by p before accumulation
    shifted.layers[1].pshift = 2
    narrow = copy.deepcopy(base)  # 13 hidden units: a remainder after the unroll by 4 (16 -> 13)
    keep = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    first, second, last = narrow.layers
    first.weight, first.bias, first.mult, first.shift = (first.weight[keep], first.bias[keep], first.mult[keep],
                                                         first.shift[keep])
    second.weight = second.weight[:, keep]
    return {"shipped": base, "shipped_a8": read_blob(MODELS / "policy_int8_a8.bin"), "pshift": shifted,
            "13_units": narrow}


@pytest.mark.parametrize("variant", ["src", "mpy"])
@pytest.mark.parametrize("name", ["shipped", "shipped_a8", "pshift", "13_units"])
def test_kernel_matches_reference(tmp_path, variant, name):
    policy = _variants()[name]
    blob = tmp_path / f"{name}.bin"
    write_blob(blob, policy)
    theta, theta_dot = _states()
    want = read_blob(blob).forward_q(np.stack([theta, theta_dot], axis=1))[:, 0]
    got = _device_torques(tmp_path, blob, variant, theta, theta_dot)
    assert len(got) == len(want)
    bad = np.nonzero(got != want)[0]
    assert not len(bad), f"{len(bad)} differ, first at {bad[0]}: device {got[bad[0]]}, host {want[bad[0]]}"
    assert len(np.unique(want)) > 50  # the states exercise the net, not just its saturation


def test_armv6m_module_set_falls_back_to_portable_with_the_same_bits(tmp_path):
    """The runtime as the armv6m build ships it (no kernels.py, device/manifest.py), run from source on the unix
    port: no ARM, so no asm_thumb, and no viper module: kernel=None picks portable, whose outputs equal the full
    package's viper kernel; kernel='viper' is refused in one line."""
    import shutil

    from tinypolicy_host.board import mpy
    from tinypolicy_host.paths import DEVICE

    pkg = tmp_path / "armv6m_set"
    for src in mpy.package_sources(DEVICE, "armv6m"):
        rel = src.relative_to(DEVICE)
        if rel.parts[0] == mpy.RUNTIME:
            (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, pkg / rel)
    assert not (pkg / "tinypolicy" / "kernels.py").exists() and (pkg / "tinypolicy" / "kernels_thumb.py").exists()
    code = ("from array import array\nfrom tinypolicy import Policy\n"
            "for m in ('models/policy_int8.bin', 'models/policy_q15.bin'):\n"
            "    p = Policy.load(m)\n"
            "    out = array('i', [0])\n"
            "    ys = []\n"
            "    for t in range(-6000, 6000, 199):\n"
            "        p.infer_q(array('i', [t, -t]), out)\n"
            "        ys.append(out[0])\n"
            "    print(p.kernel, ys)\n"
            "try:\n    Policy.load('models/policy_int8.bin', kernel='viper')\nexcept ValueError as e:\n    print(e)\n")
    armv6m_set = run_micropython(["-c", code], device=pkg)
    full = run_micropython(["-c", code])
    assert armv6m_set.returncode == 0 and full.returncode == 0, armv6m_set.stderr + full.stderr
    got, want = armv6m_set.stdout.splitlines(), full.stdout.splitlines()
    assert [line.split()[0] for line in got] == ["portable", "portable", "kernel"]
    assert [line.split()[0] for line in want[:2]] == ["viper", "viper"]
    assert [line.split(" ", 1)[1] for line in got[:2]] == [line.split(" ", 1)[1] for line in want[:2]]
    assert got[2] == "kernel 'viper': not in this build"
    assert all(len(set(eval(line.split(" ", 1)[1]))) > 30 for line in got[:2]), got  # the states exercise the nets
