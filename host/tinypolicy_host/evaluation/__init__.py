"""Closed-loop evaluation on gymnasium Pendulum-v1, with the policy on the host or on the device."""
