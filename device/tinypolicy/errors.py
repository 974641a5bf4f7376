# device: the one exception type of the policy runtime.


class ModelError(ValueError):
    """A policy blob that cannot be used (missing, truncated, corrupted, outside the format's limits).

    The message names the file and the field: "policy_int8.bin: crc32: stored 0x…, computed 0x…".
    """
