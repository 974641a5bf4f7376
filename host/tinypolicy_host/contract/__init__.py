"""The host side of the host-device contract: the float spec (MLPSpec), the numpy integer reference (the single
source of truth for what the device computes), the blob reader/writer and file names, the device tables."""
