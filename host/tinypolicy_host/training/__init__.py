"""Pendulum plant, expert controller, torch policy network and the training loop."""
