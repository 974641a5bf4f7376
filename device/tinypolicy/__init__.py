# device: TinyPolicy — quantized MLP control policies for MicroPython.
"""`from tinypolicy import Policy, ModelError` (see policy.py). Submodules: loader (blob validation), kernels
(viper int8 / Q15 forward, imported only when an int8 / q15 blob is loaded: `import tinypolicy` and f32 blobs need
no native emitter), fixed (Q12 / Q14 helpers, sin/cos/tanh), floatpath (f32 reference), tables."""
from tinypolicy.errors import ModelError
from tinypolicy.policy import Policy

__all__ = ["Policy", "ModelError"]
