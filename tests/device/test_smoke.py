# device: the runner itself works on this port (viper available, heap lock usable).
import micropython

from devtest import assert_no_alloc


@micropython.viper
def _add(a: int, b: int) -> int:
    return a + b


def test_viper_available():
    assert _add(2, 3) == 5


def test_heap_lock_catches_allocation():
    def allocate():
        return [1, 2, 3]

    try:
        assert_no_alloc(allocate)
    except MemoryError:
        return
    raise AssertionError("heap_lock did not stop an allocation")


def test_heap_lock_lets_allocation_free_code_run():
    buf = bytearray(4)

    def fill():
        for i in range(4):
            buf[i] = i

    assert_no_alloc(fill)
    assert buf == bytearray((0, 1, 2, 3))
