"""Policy on the device, plant on the host: `tinypolicy eval --device`.

The real gymnasium `Pendulum-v1` steps on the host (evaluate.run_episodes); every control step the sensor values of
all N episodes go to `tinypolicy serve` running on the device as text lines `θ,θ̇` (rad, rad/s, Python float repr),
and one torque line (N·m) per state comes back. The device is either the unix MicroPython port (a subprocess with
the device package on MICROPYPATH) or a board / the virtual board over serial (raw REPL, the blob already flashed).

Each torque is checked against the host reference computed from the same blob (blob.read_blob): int8 / Q15 must be
identical in Q12 (the device prints `%.9g`, and every Q12 torque k/4096 with |k| ≤ 8192 round-trips through that),
f32 within 1e-5 N·m. The episodes step with the torque the device returned (see DevicePolicy for the inputs).
"""

import os
import select
import subprocess
import time
from pathlib import Path

import numpy as np

from ..board import serialio
from ..contract.blob import read_blob
from ..contract.reference import QuantMLP, to_q12
from ..contract.spec import pendulum_params, pendulum_policy
from ..errors import UserError
from ..paths import REPO, device_path, micropython_binary
from .gym import evaluate

F32_TOLERANCE = 1e-5  # N·m: float32 on the device vs the float32 blob evaluated in float64 on the host
HEAPSIZE = "128K"
CHUNK = 32  # states in flight per write: serial, pty and pipe buffers are a few KB
TIMEOUT_S = 10.0  # seconds without an answer line before the device counts as stuck


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


class ServeLink:
    """Line protocol of `tinypolicy serve`: `θ,θ̇` lines in, one torque line out each; CHUNK states in flight."""

    where = "device"

    def query(self, theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
        lines: list[bytes] = []
        for start in range(0, len(theta), CHUNK):
            end = min(start + CHUNK, len(theta))
            self._write(_state_lines(theta[start:end], theta_dot[start:end]))
            for _ in range(end - start):
                lines.append(self._readline(len(lines), len(theta)))
        return _parse_torques(lines, self.where)

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _readline(self, got: int, want: int) -> bytes:
        raise NotImplementedError


class UnixPortLink(ServeLink):
    """`micropython -m tinypolicy serve --model BLOB` as a subprocess (the device package as source or x64 .mpy)."""

    def __init__(self, model: Path, variant: str = "mpy"):
        try:
            env = dict(os.environ, MICROPYPATH=f"{device_path(variant)}:.frozen")
            binary = micropython_binary()
        except FileNotFoundError as exc:
            raise UserError(f"{exc}{' (or use --variant src)' if variant == 'mpy' else ''}") from None
        cmd = [binary, "-X", f"heapsize={HEAPSIZE}", "-m", "tinypolicy", "serve", "--model", str(model.resolve())]
        self.where = f"unix port ({variant})"
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         cwd=REPO, env=env, bufsize=0)
        except OSError as exc:
            raise UserError(f"{binary}: cannot run the unix MicroPython port ({exc.strerror or exc}); "
                            "set MICROPYTHON=/path/to/micropython or run `make setup`") from None
        self._buf = b""

    def _write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            pass  # the device exited: _readline reports its stderr

    def _readline(self, got: int, want: int) -> bytes:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            ready, _, _ = select.select([fd], [], [], TIMEOUT_S)
            data = os.read(fd, 65536) if ready else None
            if not data:
                self._stop()
                err = self.proc.stderr.read().decode(errors="replace").strip()
                what = "stopped" if data == b"" else f"gave no answer for {TIMEOUT_S:.0f} s"
                raise DeviceError(f"{self.where}: the device {what} after {got} of {want} torques: "
                                  f"{err.splitlines()[-1] if err else 'no error output'}")
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return line + b"\n"

    def _stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass
        self._stop()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


class SerialLink(ServeLink):
    """`tinypolicy serve` started through the raw REPL of a board (or `vboard`); the blob must be on the board."""

    def __init__(self, port: str, model_on_board: str):
        self.where = f"--port {port}"
        self.ended = False  # serve returned (raw REPL end marker seen): nothing to quit
        self.transport = serialio.connect(serialio.resolve_port(port))
        try:
            serialio.enter_raw_repl(self.transport, soft_reset=True)
            self.transport.exec_raw_no_follow(f"from tinypolicy_app.batch import serve\nserve({model_on_board!r})")
        except BaseException:
            serialio.close(self.transport)
            raise
        self.ser = self.transport.serial
        self.ser.timeout = TIMEOUT_S

    def _write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
        except OSError as exc:  # serial.SerialException: unplugged
            raise DeviceError(f"{self.where}: lost the connection to the board ({exc})") from None

    def _readline(self, got: int, want: int) -> bytes:
        try:
            line = self.ser.readline()
        except OSError as exc:
            raise DeviceError(f"{self.where}: lost the connection to the board ({exc})") from None
        if b"\x04" in line:  # raw REPL end-of-output: serve stopped; what follows is its error output
            self.ended = True
            rest = line.split(b"\x04", 1)[1] + self.ser.read_until(b"\x04>")
            err = rest.replace(b"\x04>", b"").decode(errors="replace").strip().splitlines()[-1:]  # the exception
            raise DeviceError(f"{self.where}: the device stopped after {got} of {want} torques: "
                              f"{err[0] if err else 'no error text'} "
                              "(are the package and the blob flashed? `make flash`)")
        if not line.endswith(b"\n"):
            raise DeviceError(f"{self.where}: no answer within {TIMEOUT_S:.0f} s after {got} of {want} "
                              f"torques; device said {line[:300]!r}")
        return line

    def close(self) -> None:
        if not self.ended:
            try:
                self.ser.write(b"quit\n")
                self.transport.follow(timeout=TIMEOUT_S)
            except Exception:  # noqa: BLE001 - best effort: the port may be gone; closing must not hide the result
                pass
        serialio.close(self.transport)


class DevicePolicy:
    """A policy callable `(θ array, θ̇ array) -> torque array` answered by the device, checked against the host.

    int8 / Q15: the states are sent on the Q12 grid (k / 4096, exact in float32 for |k| < 2^24), so a board with
    single-precision floats converts them to the same Q12 inputs as the host; the episode then steps with the
    device's Q12 torque, which must equal the host reference exactly. f32: full precision, within F32_TOLERANCE.
    """

    def __init__(self, link, reference):
        self.link = link
        self.reference = pendulum_policy(reference)
        self.dtype = reference.dtype if isinstance(reference, QuantMLP) else "f32"
        self.calls = self.states = self.mismatches = 0
        self.max_abs_diff = 0.0
        self.seconds = 0.0

    def __call__(self, theta, theta_dot) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta, np.float64))
        theta_dot = np.atleast_1d(np.asarray(theta_dot, np.float64))
        if self.dtype != "f32":
            theta, theta_dot = to_q12(theta) / 4096.0, to_q12(theta_dot) / 4096.0
        t0 = time.perf_counter()
        torque = self.link.query(theta, theta_dot)
        self.seconds += time.perf_counter() - t0
        want = np.asarray(self.reference(theta, theta_dot), np.float64).reshape(-1)
        if self.dtype != "f32":
            torque = np.round(torque * 4096) / 4096  # the device's Q12 torque, exactly
        diff = np.abs(torque - want)
        diff[~np.isfinite(diff)] = np.inf  # a NaN answer is a mismatch, never a silent pass
        bad = diff > (F32_TOLERANCE if self.dtype == "f32" else 0.0)
        self.calls += 1
        self.states += len(theta)
        self.mismatches += int(bad.sum())
        self.max_abs_diff = max(self.max_abs_diff, float(diff.max()))
        return torque


def open_link(port: str | None, model: Path, model_on_board: str, variant: str):
    if port:
        return SerialLink(port, model_on_board)
    return UnixPortLink(model, variant)


def evaluate_on_device(model: Path, n_episodes: int, settings: dict, port: str | None = None,
                       model_on_board: str | None = None, variant: str = "mpy") -> dict:
    """Run every setting with the policy on the device. Returns the evaluate.evaluate() dict plus a `device` entry."""

    model = Path(model)
    if not model.is_file():
        raise UserError(f"--model {model}: no such blob "
                        "(the shipped ones are models/policy_{f32,int8,int8_a8,q15}.bin)")
    reference = read_blob(model)  # a bad blob is a user error before any device is touched
    try:
        pendulum_params(reference)
    except ValueError as exc:
        raise UserError(f"--model {model}: {exc} (eval --device runs the pendulum)") from None
    link = open_link(port, model, model_on_board or _board_path(model), variant)
    try:
        policy = DevicePolicy(link, reference)
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
