# device: the control application around the tinypolicy runtime (deployed by `make flash`, not by mip).
"""Timer-driven sensor -> policy -> actuator -> plant loop, CSV log over serial, config and safe state.

Modules: app (entry point `app.main(board, argv, here)`), config (config.json + flags), loop (the tick), sensors,
actuators, plant (simulated pendulum, Q20 state), logger (ring buffer + CSV lines), ticker (unix software timer).
The inference runtime it drives is the separate `tinypolicy` package.
"""
