"""Bring your own policy: ONNX and Stable-Baselines3 models → the float hand-off (MLPSpec)."""
