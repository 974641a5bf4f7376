"""The browser demo's tests (web/test/*.test.mjs, node's built-in test runner), driven from pytest so `make test`
runs and counts them: MicroPython WebAssembly in Node (device golden tests, also on the zoo's CartPole-v1 vectors;
the page's simulations: pendulum swing-up, CartPole-v1 balanced for 500 steps) and the page end to end in headless
Chromium (pendulum, then CartPole selected on the page). Set-up (npm ci, Debian chromium) is `make setup`'s."""
import re
import shutil
import subprocess

import pytest

from tinypolicy_host.paths import REPO

WEB = REPO / "web"


def _node_test(name: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: `make setup` installs Debian's nodejs (as root)")
    if not (WEB / "node_modules" / "@micropython" / "micropython-webassembly-pyscript").is_dir():
        pytest.fail("web/node_modules missing: run `make setup` (npm ci in web/)")
    proc = subprocess.run([node, "--test", "--test-reporter=tap", f"test/{name}"], cwd=WEB, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"node --test test/{name} failed:\n{out[-6000:]}"
    assert re.search(r"^# pass [1-9]", out, re.M), f"no node test passed:\n{out[-3000:]}"
    skipped = re.findall(r"# SKIP (.*)", out)
    if skipped:
        pytest.skip("; ".join(skipped))
    return out


def test_webassembly_device_golden_and_websim():
    out = _node_test("wasm.test.mjs")
    golden = re.findall(r"^(ok|not ok) \d+ - device test_golden\.(\w+) \[webassembly", out, re.M)
    assert len(golden) >= 3 and all(status == "ok" for status, _ in golden), out[-3000:]
    assert any("f32" in name for _, name in golden) and any("exact" in name for _, name in golden), golden
    zoo = re.findall(r"^(ok|not ok) \d+ - device test_golden\.\w+ on the zoo's CartPole-v1", out, re.M)
    assert len(zoo) == len(golden) and all(status == "ok" for status in zoo), out[-3000:]
    cart = re.findall(r"^(ok|not ok) \d+ - websim: the zoo (\w+) policy keeps CartPole-v1 balanced", out, re.M)
    assert sorted(dtype for status, dtype in cart if status == "ok") == ["f32", "int8", "q15"], cart


@pytest.mark.slow
def test_browser_page_swings_up_in_headless_chromium():
    out = _node_test("browser.test.mjs")
    for name in ("int8", "f32", "cartpole_int8"):
        assert (REPO / "build" / "web" / f"demo_{name}.png").is_file(), out[-3000:]
