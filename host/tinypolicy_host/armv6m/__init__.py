"""ARMv6-M (Cortex-M0+, RP2040) machine code under an instruction-set emulator: the .mpy reader, the Thumb
decoder, the cycle model, the unicorn runner, the asm_thumb kernel harness and the C reference build."""
