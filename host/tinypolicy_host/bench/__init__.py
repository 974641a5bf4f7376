"""The pieces of `make bench`: device, C, host and tick measurements and the report."""
