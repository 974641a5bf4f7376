"""device/package.json is generated from device/manifest.py (tools/gen_package_json.py) and committed as such."""
import importlib.util
import json

from tinypolicy_host.paths import REPO


def _tool():
    spec = importlib.util.spec_from_file_location("gen_package_json", REPO / "tools" / "gen_package_json.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_package_json_is_the_generated_one():
    assert (REPO / "device" / "package.json").read_text() == _tool().package_json()


def test_generated_file_lists_the_runtime_package(tmp_path):
    dev = tmp_path / "device"
    (dev / "pkg").mkdir(parents=True)
    for name in ("b.py", "a.py", "notes.txt"):
        (dev / "pkg" / name).write_text("")
    (dev / "manifest.py").write_text('metadata(version="1.2.3")\npackage("pkg")\n')
    assert json.loads(_tool().package_json(dev)) == {"urls": [["pkg/a.py", "pkg/a.py"], ["pkg/b.py", "pkg/b.py"]],
                                                      "version": "1.2.3"}
