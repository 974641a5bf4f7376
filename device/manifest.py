# device: micropython-lib style manifest of the mip runtime package (the control app is deployed by `make flash`).
# `tools/gen_package_json.py` writes device/package.json from it (tests/test_manifest.py checks they agree);
# `require("tinypolicy")` / `include("device/manifest.py")` freezes it into a firmware build.
metadata(  # type: ignore[name-defined]  # noqa: F821  (manifest functions come from the build tool)
    version="0.1.0",  # = pyproject.toml [project] version, the one source (tests/test_release.py checks it)
    description="Quantized MLP control policies (int8 / Q15 / f32 blobs, format v2): allocation-free, bit-exact "
    "with the host integer reference; viper and portable integer kernels",
    license="MIT",
)
package("tinypolicy")  # type: ignore[name-defined]  # noqa: F821
