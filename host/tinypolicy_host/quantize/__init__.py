"""Calibration and quantization (int8 / Q15) with the numpy integer reference, and the quantization report."""
