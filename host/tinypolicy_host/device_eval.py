"""Policy on the device, plant on the host: `tinypolicy eval --device`.

The real gymnasium `Pendulum-v1` steps on the host (evaluate.run_episodes); every control step the sensor values of
all N episodes go to `tinypolicy serve` running on the device as text lines `θ,θ̇` (rad, rad/s, Python float repr),
and one torque line (N·m) per state comes back. The device is either the unix MicroPython port (a subprocess with
the device package on MICROPYPATH) or a board / the virtual board over serial (raw REPL, the blob already flashed).

Each torque is checked against the host reference computed from the same blob (blob.read_blob): int8 / Q15 must be
identical in Q12 (the device prints `%.9g`, and every Q12 torque k/4096 with |k| ≤ 8192 round-trips through that),
f32 within 1e-5 N·m. The episodes step with the torque the device returned.
"""

import os
import subprocess
import time
from pathlib import Path

import numpy as np

from . import serialio
from .blob import read_blob
from .errors import UserError
from .paths import REPO, device_path, micropython_binary
from .quant import QuantPolicy

F32_TOLERANCE = 1e-5  # N·m: float32 on the device vs the float32 blob evaluated in float64 on the host
HEAPSIZE = "128K"
CHUNK = 32  # states in flight per write over serial


class DeviceError(UserError):
    """The device answered something other than a torque line (or nothing)."""


def _state_lines(theta: np.ndarray, theta_dot: np.ndarray) -> bytes:
    return "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(theta, theta_dot, strict=True)).encode()


def _parse_torques(lines: list[bytes], where: str) -> np.ndarray:
    out = np.empty(len(lines))
    for i, raw in enumerate(lines):
        text = raw.decode(errors="replace").strip()
        try:
            out[i] = float(text)
        except ValueError:
            raise DeviceError(f"{where}: answer {i + 1} of {len(lines)} is not a torque: {text[:200]!r}") from None
    return out


class UnixPortLink:
    """`micropython -m tinypolicy serve --model BLOB` as a subprocess (the device package as source or x64 .mpy)."""

    def __init__(self, model: Path, variant: str = "mpy"):
        try:
            env = dict(os.environ, MICROPYPATH=f"{device_path(variant)}:.frozen")
        except FileNotFoundError as exc:
            raise UserError(f"{exc} (or use --variant src)") from None
        cmd = [micropython_binary(), "-X", f"heapsize={HEAPSIZE}", "-m", "tinypolicy", "serve", "--model", str(model)]
        self.where = f"unix port ({variant})"
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=REPO, env=env)

    def query(self, theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
        try:
            self.proc.stdin.write(_state_lines(theta, theta_dot))
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the device exited: its stderr says why (below)
        lines = [self.proc.stdout.readline() for _ in range(len(theta))]
        if not all(lines):
            self.proc.kill()
            err = self.proc.stderr.read().decode(errors="replace").strip()
            raise DeviceError(f"{self.where}: the device stopped answering: {err or 'no output'}")
        return _parse_torques(lines, self.where)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


class SerialLink:
    """`tinypolicy serve` started through the raw REPL of a board (or `vboard`); the blob must be on the board."""

    TIMEOUT_S = 10.0

    def __init__(self, port: str, model_on_board: str):
        self.where = f"--port {port}"
        self.transport = serialio.connect(serialio.resolve_port(port))
        try:
            serialio.enter_raw_repl(self.transport, soft_reset=True)
            self.transport.exec_raw_no_follow(f"from tinypolicy.__main__ import serve\nserve({model_on_board!r})")
        except BaseException:
            serialio.close(self.transport)
            raise
        self.ser = self.transport.serial
        self.ser.timeout = self.TIMEOUT_S

    def query(self, theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
        lines: list[bytes] = []
        for start in range(0, len(theta), CHUNK):  # bounded in flight: serial and pty buffers are a few KB
            end = min(start + CHUNK, len(theta))
            self.ser.write(_state_lines(theta[start:end], theta_dot[start:end]))
            for _ in range(end - start):
                lines.append(self._readline(len(lines), len(theta)))
        return _parse_torques(lines, self.where)

    def _readline(self, got: int, want: int) -> bytes:
        line = self.ser.readline()
        if b"\x04" in line:  # raw REPL end-of-output: serve stopped; what follows is its error output
            rest = line.split(b"\x04", 1)[1] + self.ser.read_until(b"\x04>")
            err = rest.replace(b"\x04>", b"").decode(errors="replace").strip().splitlines()[-1:]  # the exception
            raise DeviceError(f"{self.where}: the device stopped after {got} of {want} torques: "
                              f"{err[0] if err else 'no error text'} "
                              "(are the package and the blob flashed? `make flash`)")
        if not line.endswith(b"\n"):
            raise DeviceError(f"{self.where}: no answer within {self.TIMEOUT_S:.0f} s after {got} of {want} "
                              f"torques; device said {line[:300]!r}")
        return line

    def close(self) -> None:
        try:
            self.ser.write(b"quit\n")
            self.transport.follow(timeout=self.TIMEOUT_S)
        except Exception:  # noqa: BLE001 - best effort: the port may be gone; closing must not hide the result
            pass
        serialio.close(self.transport)


class DevicePolicy:
    """A policy callable `(θ array, θ̇ array) -> torque array` answered by the device, checked against the host."""

    def __init__(self, link, blob_path: Path):
        self.link = link
        self.reference = read_blob(blob_path)
        self.dtype = self.reference.dtype if isinstance(self.reference, QuantPolicy) else "f32"
        self.calls = self.states = self.mismatches = 0
        self.max_abs_diff = 0.0
        self.seconds = 0.0

    def __call__(self, theta, theta_dot) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta, np.float64))
        theta_dot = np.atleast_1d(np.asarray(theta_dot, np.float64))
        t0 = time.perf_counter()
        torque = self.link.query(theta, theta_dot)
        self.seconds += time.perf_counter() - t0
        want = np.asarray(self.reference.forward(theta, theta_dot), np.float64).reshape(-1)
        if self.dtype == "f32":
            bad = np.abs(torque - want) > F32_TOLERANCE
        else:
            torque = np.round(torque * 4096) / 4096  # the device's Q12 torque, exactly
            bad = torque != want
        self.calls += 1
        self.states += len(theta)
        self.mismatches += int(bad.sum())
        self.max_abs_diff = max(self.max_abs_diff, float(np.abs(torque - want).max()))
        return torque


def open_link(port: str | None, model: Path, model_on_board: str, variant: str):
    if port:
        return SerialLink(port, model_on_board)
    return UnixPortLink(model, variant)


def evaluate_on_device(model: Path, n_episodes: int, settings: dict, port: str | None = None,
                       model_on_board: str | None = None, variant: str = "mpy") -> dict:
    """Run every setting with the policy on the device. Returns the evaluate.evaluate() dict plus a `device` entry."""
    from .evaluate import evaluate

    model = Path(model)
    if not model.is_file():
        raise UserError(f"--model {model}: no such blob (the shipped ones are models/policy_{{f32,int8,q15}}.bin)")
    on_board = model_on_board or _board_path(model)
    link = open_link(port, model, on_board, variant)
    policy = DevicePolicy(link, model)
    try:
        result = evaluate(policy, n_episodes, settings)
    finally:
        link.close()
    result["device"] = {"link": link.where, "model": str(model), "dtype": policy.dtype, "states": policy.states,
                        "round_trips": policy.calls, "mismatches": policy.mismatches,
                        "max_abs_diff_vs_host": policy.max_abs_diff, "device_seconds": round(policy.seconds, 2)}
    return result


def _board_path(model: Path) -> str:
    """Where `make flash` puts the blob: the path relative to the repository (models/...), else models/<name>."""
    try:
        return model.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return f"models/{model.name}"
