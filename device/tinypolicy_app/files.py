# device: file-system helpers of the app: where a data path resolves, and whether it is safe to open.
"""os.stat mode bits (S_IFMT 0o170000): littlefs, FAT and the unix port all report a regular file as 0o100000.
A path that is a FIFO (or a device) would block open() or read() forever, so every file the app opens from a
user's setting (config, model, replay input/output) is checked first."""
import os

_S_IFMT = 0o170000
_KINDS = {0o100000: "", 0o040000: "a directory", 0o010000: "a FIFO", 0o020000: "a character device",
          0o060000: "a block device", 0o140000: "a socket"}


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def not_regular(path):
    """'' for a regular file or a missing path (open() then reports ENOENT itself), else what it is
    ('a FIFO', 'a directory', ...)."""
    try:
        mode = os.stat(path)[0]
    except OSError:
        return ""
    return _KINDS.get(mode & _S_IFMT, "not a regular file")


def resolve(path, here):
    """A data path as given (relative to the cwd), else beside main.py, else one level up (unix dev tree:
    `cd device && micropython main.py` finds ../models/...)."""
    if not path or path[0] == "/":
        return path
    for cand in (path, here + "/" + path, here + "/../" + path):
        if exists(cand):
            return cand
    return path
