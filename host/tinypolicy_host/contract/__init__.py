"""The host side of the host-device contract: float spec, blob reader/writer, file names."""
