"""device/tinypolicy/tables.py is the generated copy of the host reference tables (tools/gen_tables.py)."""
import importlib.util
from pathlib import Path

from tinypolicy_host.contract import reference as quant

REPO = Path(__file__).resolve().parents[1]


def _gen_tables():
    spec = importlib.util.spec_from_file_location("gen_tables", REPO / "tools" / "gen_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tables_py_is_up_to_date():
    gen = _gen_tables()
    assert gen.TARGET.read_text() == gen.source(), "run .venv/bin/python tools/gen_tables.py"


def test_tables_py_values_match_the_reference():
    ns: dict = {}
    exec(compile((REPO / "device" / "tinypolicy" / "tables.py").read_text(), "tables.py", "exec"), ns)
    for name in ("SIN_Q14", "TANH_Q14"):
        raw = ns[name]
        vals = [int.from_bytes(raw[i:i + 2], "little") for i in range(0, len(raw), 2)]
        assert vals == [int(v) for v in getattr(quant, name)]
