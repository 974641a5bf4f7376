"""Calibration rows, quantization of an MLPSpec (w8a8 / w8a16 / q15) and the quantization report."""
