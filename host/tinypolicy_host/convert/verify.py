"""`tinypolicy verify DIR`: replay a converted model's golden vectors on the unix port or a flashed board.

Each blob listed in DIR/metadata.json ("golden") is loaded by the device runtime and fed its golden rows through
`tinypolicy_app.golden_replay` (int8 / q15: `infer_q`, exact int32 comparison; f32: `infer`, atol + rtol·|want|).
Unix port: one MicroPython process per blob, from the sources ('src') or the x64 .mpy build ('mpy'). Board:
the blob and golden CSV are copied (verified) with mpremote, then replayed there; the board needs the
`tinypolicy` and `tinypolicy_app` packages (`tinypolicy flash`).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import ConvertError

SUMMARY = re.compile(r"replay (.*): (\d+) rows, (\d+) mismatches")
DEFAULT_MAX_BYTES = 98304
REMOTE_DIR = "tp_verify"


@dataclass
class Replay:
    blob: str
    scheme: str
    rows: int
    mismatches: int
    detail: str  # the replay's output (mismatch lines, errors)

    @property
    def ok(self) -> bool:
        return self.rows > 0 and self.mismatches == 0


def golden_entries(out_dir: Path) -> list[dict]:
    """The golden blob entries of DIR/metadata.json, paths resolved against DIR."""
    meta_path = Path(out_dir) / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text())
        blobs = meta["golden"]["blobs"]
    except FileNotFoundError:
        raise ConvertError(f"{meta_path}: no such file (convert first: `tinypolicy convert MODEL.onnx --out "
                           f"{out_dir}`)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConvertError(f"{meta_path}: not a `tinypolicy convert` metadata file ({exc})") from None
    out = []
    for b in blobs:
        entry = dict(b)
        for key in ("blob", "golden"):
            entry[key] = Path(out_dir) / b[key]
            if not entry[key].is_file():
                raise ConvertError(f"{meta_path}: golden.blobs: {b[key]}: no such file in {out_dir}")
        out.append(entry)
    return out


def replay_args(entry: dict, blob: str, golden: str) -> list[str]:
    size = Path(entry["blob"]).stat().st_size
    args = [blob, golden, str(max(DEFAULT_MAX_BYTES, size))]
    if "atol" in entry:
        args += [repr(float(entry["atol"])), repr(float(entry["rtol"]))]
    return args


def _parse(entry: dict, text: str) -> Replay:
    m = SUMMARY.search(text)
    if not m:
        return Replay(str(entry["blob"]), entry.get("scheme", "?"), 0, 0, text.strip())
    return Replay(str(entry["blob"]), entry.get("scheme", "?"), int(m.group(2)), int(m.group(3)), text.strip())


def verify_unix(out_dir: Path, variant: str = "src") -> list[Replay]:
    """Replay every golden blob on the unix port (variant 'src' or 'mpy' = the x64 .mpy build)."""
    from ..paths import device_path, micropython_binary

    results = []
    for entry in golden_entries(out_dir):
        heap = max(256 * 1024, 4 * Path(entry["blob"]).stat().st_size)
        cmd = [micropython_binary(), "-X", f"heapsize={heap}", "-m", "tinypolicy_app.golden_replay",
               *replay_args(entry, str(entry["blob"]), str(entry["golden"]))]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "MICROPYPATH": device_path(variant)})
        results.append(_parse(entry, proc.stdout + proc.stderr))
    return results


def verify_board(out_dir: Path, port: str | None) -> list[Replay]:
    """Copy each golden blob + CSV to the board (verified) and replay it there."""
    from ..board import serialio
    from ..board.flash import Device, Item
    from ..errors import UserError

    entries = golden_entries(out_dir)
    port = serialio.resolve_port(port)
    transport = serialio.connect(port)
    results = []
    try:
        serialio.enter_raw_repl(transport, soft_reset=True)
        dev = Device(transport)
        for k, entry in enumerate(entries):
            blob, golden = f"{REMOTE_DIR}/m{k}.bin", f"{REMOTE_DIR}/g{k}.csv"
            dev.sync([Item(entry["blob"], blob), Item(entry["golden"], golden)], out=_Null())
            args = replay_args(entry, blob, golden)
            call = f"replay({args[0]!r}, {args[1]!r}, {', '.join(args[2:])})"
            try:
                text = transport.exec(f"from tinypolicy_app.golden_replay import replay\n{call}\n").decode()
            except Exception as exc:  # TransportExecError: the board raised (no tinypolicy_app, MemoryError…)
                text = getattr(exc, "error_output", str(exc))
                if "ImportError" in text:
                    raise UserError(f"--port {port}: the board has no tinypolicy_app: run `tinypolicy flash` "
                                    "first") from None
            results.append(_parse(entry, text))
    finally:
        serialio.close(transport)
    return results


class _Null:
    def write(self, _s):
        return 0

    def flush(self):
        pass


def format_results(results: list[Replay]) -> str:
    lines = []
    for r in results:
        status = "ok" if r.ok else "MISMATCH" if r.rows else "ERROR"
        lines.append(f"{status:8s} {r.scheme:6s} {Path(r.blob).name}: {r.rows} rows, {r.mismatches} mismatches")
        if not r.ok:
            lines += ["         " + line for line in r.detail.splitlines()[:6]]
    return "\n".join(lines)
