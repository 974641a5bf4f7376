"""Calibration rows for a converted model: read from CSV / .npy, or drawn from user-given input ranges; split.

Rows are in the ONNX model's input space: one column per element of its input vector (for `--angle-inputs I`,
columns I and I+1 are cos θ and sin θ). CSV: a header row of column names, then one row of numbers per line.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConvertError

#: Share of the rows held out of calibration, for the accuracy figures on data the scales never saw.
HELD_OUT = 0.2
#: Rows drawn per input range when no data are given.
RANGE_ROWS = 4096


@dataclass
class CalibData:
    names: list[str]
    calib: np.ndarray  # (N, n) float64: used to choose scales
    held_out: np.ndarray  # (M, n) float64: accuracy only
    source: str  # what the rows came from, for metadata


def read_rows(path: Path, n: int) -> tuple[np.ndarray, list[str] | None]:
    """(N, n) float64 rows and the header names (CSV) from a .csv or .npy file."""
    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"{path}: no such calibration file")
    if path.suffix.lower() == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as exc:  # ValueError / OSError / UnpicklingError: not a plain numeric .npy
            raise ConvertError(f"{path}: not a numeric .npy array: {exc}") from None
        if x.ndim == 1 and n == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != n or not np.issubdtype(x.dtype, np.number):
            raise ConvertError(f"{path}: array of shape {list(x.shape)} {x.dtype}: expected (rows, {n}) numbers")
        x = x.astype(np.float64)
        bad = np.argwhere(~np.isfinite(x))
        if len(bad):
            raise ConvertError(f"{path}: row {bad[0][0]}, column {bad[0][1]}: not finite")
        return x, None
    return _read_csv(path, n)


def _read_csv(path: Path, n: int) -> tuple[np.ndarray, list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConvertError(f"{path}: cannot read as UTF-8 text: {exc}") from None
    rows = [(k + 1, r) for k, r in enumerate(csv.reader(lines)) if r and any(c.strip() for c in r)]
    if not rows:
        raise ConvertError(f"{path}: empty")
    line, header = rows[0]
    names = [h.strip() for h in header]
    if len(names) != n:
        raise ConvertError(f"{path}: line {line}: header has {len(names)} columns, the model takes {n}")
    if any(_is_number(h) for h in names):
        raise ConvertError(f"{path}: line {line}: expected a header of input names, got numbers")
    data = []
    for line, r in rows[1:]:
        if len(r) != n:
            raise ConvertError(f"{path}: line {line}: {len(r)} columns, expected {n}")
        try:
            vals = [float(c) for c in r]
        except ValueError:
            raise ConvertError(f"{path}: line {line}: not a number in {','.join(r)!r}") from None
        if not all(math.isfinite(v) for v in vals):
            raise ConvertError(f"{path}: line {line}: not finite")
        data.append(vals)
    if not data:
        raise ConvertError(f"{path}: no data rows after the header")
    return np.asarray(data, np.float64), names


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_ranges(text: str, n: int) -> np.ndarray:
    """'lo:hi' (all columns) or 'lo:hi,lo:hi,…' (one per column) → (n, 2) float64."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (1, n):
        raise ConvertError(f"--input-range: {len(parts)} ranges for {n} input columns (give 1 or {n})")
    out = []
    for p in parts:
        try:
            lo, hi = (float(v) for v in p.split(":"))
        except ValueError:
            raise ConvertError(f"--input-range: {p!r}: expected lo:hi") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConvertError(f"--input-range: {p!r}: needs finite lo < hi")
        out.append((lo, hi))
    return np.asarray(out * (n if len(out) == 1 else 1), np.float64)


def rows_from_ranges(ranges: np.ndarray, angle_cols: list[int], seed: int = 0) -> np.ndarray:
    """Uniform rows inside `ranges`; angle pairs (I, I+1) as (cos θ, sin θ) of θ uniform in [−π, π]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(ranges[:, 0], ranges[:, 1], size=(RANGE_ROWS, len(ranges)))
    for i in angle_cols:
        theta = rng.uniform(-math.pi, math.pi, RANGE_ROWS)
        x[:, i], x[:, i + 1] = np.cos(theta), np.sin(theta)
    return x


def split(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(calibration rows, held-out rows): a seeded shuffle, HELD_OUT of the rows (at least 1) held out."""
    if len(x) < 2:
        raise ConvertError(f"calibration data: {len(x)} row(s): need at least 2 (some are held out)")
    order = np.random.default_rng(seed).permutation(len(x))
    k = max(1, int(round(len(x) * HELD_OUT)))
    return x[order[k:]], x[order[:k]]


def load_calibration(n: int, calib_path: Path | None, input_range: str | None, angle_cols: list[int],
                     seed: int = 0) -> CalibData:
    if calib_path is None and input_range is None:
        raise ConvertError("give calibration data (--calib DATA.csv|.npy) or input ranges (--input-range lo:hi,…)")
    if calib_path is not None:
        x, names = read_rows(calib_path, n)
        source = f"{Path(calib_path).name} ({len(x)} rows)"
    else:
        x, names = rows_from_ranges(parse_ranges(input_range, n), angle_cols, seed), None
        source = f"uniform in --input-range {input_range} ({len(x)} rows, seed {seed})"
    calib, held = split(x, seed)
    return CalibData(names or [f"x{i}" for i in range(n)], calib, held, source)
