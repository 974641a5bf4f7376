"""onnxruntime on the user's original model: the float reference every converted blob is compared with."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def ort_forward(model_path: Path, input_name: str, output_name: str, x: np.ndarray) -> np.ndarray:
    """(N, n) float rows → (N, m) float64 from onnxruntime. Models exported with a fixed batch of 1 (torch's
    default) are run one row at a time."""
    try:
        return _run(model_path, input_name, output_name, x)
    except Exception as exc:  # onnxruntime's own error types: a model (or op set) it cannot run
        from .errors import ConvertError

        msg = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise ConvertError(f"{model_path}: onnxruntime cannot run the model: {msg}") from None


def _run(model_path: Path, input_name: str, output_name: str, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    meta = next(i for i in sess.get_inputs() if i.name == input_name)
    np_type = np.float64 if meta.type == "tensor(double)" else np.float32
    shape = list(meta.shape)
    x = np.asarray(x, np_type)
    if len(shape) >= 1 and shape[0] == 1 or len(shape) == 1:
        rows = [sess.run([output_name], {input_name: r.reshape([1] * (len(shape) - 1) + [-1])})[0] for r in x]
        return np.stack([np.asarray(r, np.float64).reshape(-1) for r in rows])
    return np.asarray(sess.run([output_name], {input_name: x})[0], np.float64).reshape(len(x), -1)
