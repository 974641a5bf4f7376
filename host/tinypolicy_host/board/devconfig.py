"""The device app's own config rule, applied on the host before a config is flashed.

`device/tinypolicy_app/strictjson.py` (the strict JSON syntax: one flat object of scalars) and
`device/tinypolicy_app/config.py` (keys, types, ranges) are plain Python: they are loaded here from the device
tree under private module names and run under CPython, so the host accepts exactly the configs the device
accepts, with the device's own error messages (MicroPython's json alone would accept trailing commas and more)."""
import importlib.util
from functools import cache
from pathlib import Path

from ..errors import UserError
from ..paths import DEVICE


@cache
def _device_module(name: str):
    path = DEVICE / "tinypolicy_app" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_tinypolicy_device_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_config(path: Path) -> dict:
    """The settings of a config file, checked as the device checks them; UserError naming the file and the key
    (or line and column) otherwise."""
    strictjson, config = _device_module("strictjson"), _device_module("config")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        settings = strictjson.parse_bytes(data, config.MAX_CONFIG_BYTES)
    except strictjson.ConfigSyntaxError as exc:
        raise UserError(f"{path}: not valid JSON for the device ({exc.args[0]})") from None
    errors: list[str] = []
    config.merge(config.defaults(), settings, errors)
    if errors:
        raise UserError(f"{path}: {'; '.join(errors)} (the device would run in the safe state)")
    return settings
