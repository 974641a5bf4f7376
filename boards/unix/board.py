# device: board module for the unix port (CI, `make demo`): no hardware, software ticker.
"""The app imports only `board`. On the unix port there is no machine.Timer and no rig: the ticker is
tinypolicy_app.ticker.Timer (absolute schedule on time.ticks_us, polled by the foreground via `wait`), the sensor
is the simulated pendulum, the actuator the simulated torque. An allocation-free policy gets the 'hard'
callback, which the software ticker emulates by locking the heap around the step."""
from tinypolicy_app.ticker import Timer

NAME = "unix"
TIMER_ID = -1
DEFAULT_PERIOD_MS = 10
TICKER_KIND = "unix software timer (ticks_us absolute schedule)"

MAX_TORQUE_Q12 = 8192  # hardware limit (Q12 N*m) the app clamps every command to: the simulated plant's 2 N*m

# No rig on the unix port: the app refuses sensor/actuator 'board' here.
read_sensor = None
write_actuator = None


def actuator_off():
    pass


_ISIG = 1  # termios c_lflag bit (Linux): the terminal turns Ctrl-C into SIGINT


def ctrl_c(enabled):
    """Ctrl-C as an interrupt on (True) or off (False, during a run: the byte then reaches the app's input, as on a
    board after micropython.kbd_intr(-1)). The unix port sees Ctrl-C only as SIGINT from its terminal, and
    kbd_intr(-1) would make SIGINT fatal: clear the terminal's ISIG flag instead. Not a terminal: nothing to do."""
    import termios

    try:
        attrs = termios.tcgetattr(0)
        attrs[3] = attrs[3] | _ISIG if enabled else attrs[3] & ~_ISIG
        termios.tcsetattr(0, termios.TCSANOW, attrs)
    except OSError:
        pass


def make_ticker(alloc_free):
    """Returns (timer, hard): a machine.Timer-like object, not started, and whether to ask for hard mode."""
    return Timer(TIMER_ID), bool(alloc_free)


def wait(timer):
    """Foreground idle between log drains: sleep until the next deadline and run the tick when due."""
    timer.poll()
