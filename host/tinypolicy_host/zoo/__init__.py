"""The policy zoo: compact SB3 policies for Gymnasium tasks, trained, converted and evaluated on the device."""
