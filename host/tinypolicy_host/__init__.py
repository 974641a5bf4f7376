"""TinyPolicy host side (CPython): training, export, quantization reference, deploy and analysis tools."""
