"""Read the device's CSV log stream: a header line, data rows, and `# level: text` message lines.

Columns (from device/tinypolicy_app/logger.py): tick, t_us, theta (rad), theta_dot (rad/s), torque (N·m),
infer_us, lateness_us, overruns, flags.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError


@dataclass
class Log:
    columns: list[str]
    data: dict[str, np.ndarray]  # column -> float64 array
    messages: list[str] = field(default_factory=list)  # '# level: text' lines, without the '# '
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0


def parse_lines(lines) -> Log:
    """Split lines into header, rows, messages; a row with the wrong field count or a non-number is
    recorded as malformed (with its 1-based line number) and skipped, never fatal."""
    columns, rows, messages, malformed = None, [], [], []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            messages.append(line[1:].strip())
            continue
        if columns is None:
            if line.startswith("tick,"):
                columns = line.split(",")
            else:
                malformed.append((number, line))
            continue
        fields = line.split(",")
        if len(fields) != len(columns):
            malformed.append((number, line))
            continue
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            malformed.append((number, line))
    if columns is None:
        return Log([], {}, messages, malformed)
    table = np.array(rows, dtype=np.float64).reshape(-1, len(columns))
    return Log(columns, {c: table[:, i] for i, c in enumerate(columns)}, messages, malformed)


def read_log(path) -> Log:
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise UserError(f"{path}: cannot read log ({exc.strerror})") from exc
    log = parse_lines(text.splitlines())
    if not log.columns:
        raise UserError(f"{path}: no CSV header line starting with 'tick,' found")
    return log
