"""Policy on the device, task on the host: `tinypolicy eval --device` (Pendulum-v1 settings) and
`tinypolicy eval --env ENV_ID --device` (any Gymnasium task with a flat Box observation).

The environment steps on the host; every step the inputs of all running episodes go to `serve` running on the
device (tinypolicy_app.batch) as text lines `x0,x1,…` (Python float repr), and one line of outputs (`%.9g`,
comma-separated; argmax head: the index) per input line comes back. The device is either the unix MicroPython
port (a subprocess with the device packages on MICROPYPATH) or a board / the virtual board over serial (raw REPL,
the blob already flashed).

Each answer is checked against the host reference computed from the same blob (contract.blob.read_blob): int8 /
Q15 must be identical in Q`out_frac` (the device prints `%.9g`, and every q/2^frac with |q| < 2^24 round-trips
through that), f32 within 1e-5 (argmax: the same index). The episodes step with what the device returned (see
DevicePolicy for the inputs).
"""

import os
import select
import subprocess
import time
from pathlib import Path

import numpy as np

from .. import paths
from ..board import serialio
from ..contract.reference import I32_MAX, QuantMLP, to_q
from ..errors import UserError
from ..paths import REPO, device_path, micropython_binary

F32_TOLERANCE = 1e-5  # output units: float32 on the device vs the float32 blob evaluated in float64 on the host
CHUNK = 32  # input lines in flight per write: serial, pty and pipe buffers are a few KB
TIMEOUT_S = 10.0  # seconds without an answer line before the device counts as stuck


class DeviceError(UserError):
    """The device answered something other than an output line (or nothing)."""


def _input_lines(rows: np.ndarray) -> bytes:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows).encode()


def _parse_outputs(lines: list[bytes], n_outputs: int, where: str) -> np.ndarray:
    out = np.empty((len(lines), n_outputs))
    for i, raw in enumerate(lines):
        text = raw.decode(errors="replace").strip()
        try:
            values = [float(v) for v in text.split(",")]
            if len(values) != n_outputs:
                raise ValueError
        except ValueError:
            raise DeviceError(f"{where}: answer {i + 1} of {len(lines)} is not {n_outputs} output value(s): "
                              f"{text[:200]!r}") from None
        out[i] = values
    return out


class ServeLink:
    """Line protocol of `serve`: one line of inputs in, one line of outputs out each; CHUNK lines in flight."""

    where = "device"

    def query(self, rows: np.ndarray, n_outputs: int) -> np.ndarray:
        """(k, n_inputs) float64 → (k, n_outputs) float64 answers of the device."""
        lines: list[bytes] = []
        for start in range(0, len(rows), CHUNK):
            end = min(start + CHUNK, len(rows))
            self._write(_input_lines(rows[start:end]))
            for _ in range(end - start):
                lines.append(self._readline(len(lines), len(rows)))
        return _parse_outputs(lines, n_outputs, self.where)

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
        cmd = [binary, "-X", f"heapsize={paths.BOARD_HEAPSIZE}", "-m", "tinypolicy", "serve", "--model",
               str(model.resolve())]
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
                raise DeviceError(f"{self.where}: the device {what} after {got} of {want} answers: "
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
            raise DeviceError(f"{self.where}: the device stopped after {got} of {want} answers: "
                              f"{err[0] if err else 'no error text'} "
                              "(are the package and the blob flashed? `make flash`)")
        if not line.endswith(b"\n"):
            raise DeviceError(f"{self.where}: no answer within {TIMEOUT_S:.0f} s after {got} of {want} "
                              f"answers; device said {line[:300]!r}")
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
    """A batched policy `obs (k, n_inputs) -> outputs (k, n_outputs)` answered by the device and checked against
    the host reference of the same blob (`reference`: the f32 MLPSpec or the QuantMLP that read_blob returns).

    int8 / Q15: the inputs are sent on their Q`in_frac` grid (q / 2^frac, exact in float32 for |q| < 2^24), so a
    board with single-precision floats converts them to the same integers as the host; the episode then steps
    with the device's outputs, which must equal the host reference's Q`out_frac` values exactly. f32: full
    precision, within F32_TOLERANCE (argmax: the same index).
    """

    def __init__(self, link, reference):
        self.link = link
        self.reference = reference
        self.quantized = isinstance(reference, QuantMLP)
        self.dtype = reference.dtype if self.quantized else "f32"
        self.argmax = bool(reference.argmax)
        self.n_inputs, self.n_outputs = reference.n_inputs, reference.n_outputs
        self.calls = self.states = self.mismatches = 0
        self.max_abs_diff = 0.0
        self.seconds = 0.0

    def _grid(self, x: np.ndarray) -> np.ndarray:
        """Integer inputs the device will compute from `x` (affine: clamped to the int32 range first)."""
        cols = []
        for j, frac in enumerate(self.reference.in_frac):
            lim = I32_MAX / 2.0**frac
            v = x[:, j] if self.reference.inputs[j].kind == "angle" else np.clip(x[:, j], -lim, lim)
            cols.append(to_q(v, frac))
        return np.stack(cols, axis=1)

    def __call__(self, obs) -> np.ndarray:
        x = np.asarray(obs, np.float64).reshape(-1, self.n_inputs)
        if self.quantized:
            xq = self._grid(x)
            x = xq / np.array([2.0**f for f in self.reference.in_frac])[None, :]
            scale = np.array([2.0**f for f in self.reference.out_frac])[None, :]
            want = self.reference.forward_q(xq) / scale
        else:
            want = self.reference.forward(x)
        t0 = time.perf_counter()
        got = self.link.query(x, self.n_outputs)
        self.seconds += time.perf_counter() - t0
        if self.quantized:
            got = np.round(got * scale) / scale  # the device's Q`out_frac` values, exactly
        diff = np.abs(got - want)
        diff[~np.isfinite(diff)] = np.inf  # a NaN answer is a mismatch, never a silent pass
        tol = F32_TOLERANCE if not (self.quantized or self.argmax) else 0.0
        bad = np.any(diff > tol, axis=1)
        self.calls += 1
        self.states += len(x)
        self.mismatches += int(bad.sum())
        self.max_abs_diff = max(self.max_abs_diff, float(diff.max()))
        return got

    def pendulum(self, theta, theta_dot) -> np.ndarray:
        """The pendulum policy shape `(θ array, θ̇ array) -> torque array` of evaluation.gym."""
        x = np.stack([np.atleast_1d(np.asarray(theta, np.float64)),
                      np.atleast_1d(np.asarray(theta_dot, np.float64))], axis=1)
        return self(x)[:, 0]

    def report(self) -> dict:
        return {"dtype": self.dtype, "states": self.states, "round_trips": self.calls,
                "mismatches": self.mismatches, "max_abs_diff_vs_host": self.max_abs_diff,
                "device_seconds": round(self.seconds, 2)}


def open_link(port: str | None, model: Path, model_on_board: str, variant: str):
    if port:
        return SerialLink(port, model_on_board)
    return UnixPortLink(model, variant)


def run_on_device(model: Path, evaluate, port: str | None = None, model_on_board: str | None = None,
                  variant: str = "mpy") -> tuple[object, dict]:
    """`evaluate(device_policy)` with the blob `model` served by the device; returns (its result, device report)."""
    from .episodes import read_model

    model = Path(model)
    reference = read_model(model)
    link = open_link(port, model, model_on_board or _board_path(model), variant)
    try:
        policy = DevicePolicy(link, reference)
        result = evaluate(policy)
    finally:
        link.close()
    return result, dict(policy.report(), link=link.where, model=str(model))


def evaluate_on_device(model: Path, n_episodes: int, settings: dict, port: str | None = None,
                       model_on_board: str | None = None, variant: str = "mpy") -> dict:
    """Pendulum-v1 settings with the policy on the device: evaluation.gym.evaluate()'s dict plus `device`."""
    from ..contract.spec import pendulum_params
    from .episodes import read_model
    from .gym import evaluate

    try:
        pendulum_params(read_model(model))
    except ValueError as exc:
        raise UserError(f"--model {model}: {exc} (without --env, eval runs the pendulum settings)") from None
    result, dev = run_on_device(model, lambda p: evaluate(p.pendulum, n_episodes, settings), port,
                                model_on_board, variant)
    result["device"] = dev
    return result


def evaluate_env_on_device(env_id: str, model: Path, episodes: int, seed: int = 0, port: str | None = None,
                           model_on_board: str | None = None, variant: str = "mpy") -> dict:
    """Any Gymnasium task with the policy on the device: episodes.EpisodeResult.summary() plus `device`."""
    from .episodes import evaluate

    summary, dev = run_on_device(model, lambda p: evaluate(env_id, p, p, episodes, seed, f"--model {model}"), port,
                                 model_on_board, variant)
    summary["device"] = dev
    return summary


def _board_path(model: Path) -> str:
    """Where `make flash` puts the blob: the path relative to the repository (models/...), else models/<name>."""
    try:
        return model.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return f"models/{model.name}"
