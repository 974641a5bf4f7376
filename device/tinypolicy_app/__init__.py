# device: the control application around the tinypolicy runtime (deployed by `make flash`, not by mip).
"""Timer-driven sensor -> policy -> actuator -> plant loop, CSV log over serial, config and safe state.

Modules: app (entry point `app.main(board, argv, here, link)`), config (config.json + flags; strictjson: the
config syntax rule, shared with the host's `flash`), loop (the tick), sensors, replay (streamed CSV replay),
actuators, plant (simulated pendulum, Q20 state), cartpole (simulated CartPole-v1 in floats, plain MicroPython:
the browser demo's second task), logger (ring buffer + CSV lines), link (the serial link during a
run: stray Ctrl-C ignored, CR Ctrl-C stops), files (path checks), ticker (unix software timer).
The inference runtime it drives is the separate `tinypolicy` package.
"""
