# device: helpers shared by the device test files (plain MicroPython, also runs on a board).


class Skip(Exception):
    """Raise (or call skip()) when this port or board lacks what the test needs."""


def skip(reason):
    raise Skip(reason)


def file_exists(path):
    import os

    try:
        os.stat(path)
        return True
    except OSError:
        return False


def assert_no_alloc(fn, *args):
    """Call fn(*args) with the heap locked: any allocation raises MemoryError."""
    import micropython

    micropython.heap_lock()
    try:
        return fn(*args)
    finally:
        micropython.heap_unlock()
