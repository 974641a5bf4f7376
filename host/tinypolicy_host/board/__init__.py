"""Working with a board: serial link, flash, monitor, device tests, demo, plots, mpy builds, release folder."""
