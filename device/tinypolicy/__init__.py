# device: TinyPolicy — quantized MLP control policies for MicroPython.
