"""Developer tools: the virtual board (pty relay, Linux) and lint."""
