# device: micropython-lib style manifest of the mip runtime package (the control app is deployed by `make flash`).
# `tools/gen_package_json.py` writes device/package.json from it (tests/test_manifest.py checks they agree);
# `require("tinypolicy")` / `include("device/manifest.py")` freezes it into a firmware build.
metadata(  # type: ignore[name-defined]  # noqa: F821  (manifest functions come from the build tool)
    version="1.0.0",  # = pyproject.toml [project] version, the one source (tests/test_release.py checks it)
    description="Quantized MLP control policies (int8 / Q15 / f32 blobs, format v2): allocation-free, bit-exact "
    "with the host integer reference; asm_thumb, viper and portable integer kernels",
    license="MIT",
)
package("tinypolicy")  # type: ignore[name-defined]  # noqa: F821

# Modules per architecture, the one place that decides it: the per-arch .mpy builds (`make mpy`, `make dist`,
# `tinypolicy flash`, also with --src; host/tinypolicy_host/board/manifest.py reads these two tables) ship only the
# kernels an architecture runs. package.json (mip) and a frozen firmware get every module.
# - kernels_thumb.py (asm_thumb) is compiled for ARM only.
# - kernels.py (viper) is left out of armv6m (RP2040): there Policy.load picks the asm_thumb kernel, or the portable
#   kernel (same bits) on a firmware without the inline assembler; kernel="viper" raises ValueError "not in this
#   build". It saves 5.3 KB of the 16 KB armv6m budget (README, code size). ESP32 (xtensawin, rv32imc) runs viper.
# - __main__.py (`micropython -m tinypolicy batch|serve`) only where a command line exists: the unix port (x64).
ONLY_FOR = {"tinypolicy/kernels_thumb.py": ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp"),
            "tinypolicy/__main__.py": ("x64",)}
NOT_FOR = {"tinypolicy/kernels.py": ("armv6m",)}
