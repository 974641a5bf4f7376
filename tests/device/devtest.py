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


def assert_no_alloc(fn):
    """Call fn() with the heap locked: any allocation inside raises MemoryError.

    No arguments on purpose: a call through *args allocates a tuple by itself on MicroPython, which would fail
    every function. Bind arguments with a closure or lambda built before the call.
    """
    import micropython

    micropython.heap_lock()
    try:
        return fn()
    finally:
        micropython.heap_unlock()


def scratch_file(name, data):
    """Write data (str or bytes) to build/tmp/NAME (folders made as needed); returns the path."""
    import os

    for d in ("build", "build/tmp"):
        try:
            os.mkdir(d)
        except OSError:
            pass
    path = "build/tmp/" + name
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path
