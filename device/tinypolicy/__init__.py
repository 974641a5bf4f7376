# device: TinyPolicy — quantized MLP control policies for MicroPython.
"""`from tinypolicy import Policy, ModelError` (see policy.py). Submodules: loader and checks (blob validation),
the int8 / Q15 kernels kernels_thumb (asm_thumb), kernels (viper) and portable, imported only when an int8 / q15
blob is loaded (`import tinypolicy` and f32 blobs need no native emitter), floatpath and floats (f32 path, infer),
tables (sin / tanh tables). Which modules each architecture's .mpy build ships: device/manifest.py."""
from tinypolicy.errors import ModelError
from tinypolicy.policy import Policy

__all__ = ["Policy", "ModelError"]
