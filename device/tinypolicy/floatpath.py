# device: float reference path: runs an f32 blob in plain MicroPython floats (any port, no viper needed).
"""Weights are copied from the blob into array('f') per layer (raw float32, no per-value float objects); the blob
itself is not kept. Features: [cos theta, sin theta, theta_dot * vel_scale] (no clamp, like the ONNX model), then
dense layers (activations identity, relu, tanh, hardtanh = clip to [-1, 1], sigmoid), then the output clipped to
+-max_torque. Arithmetic is the port's float (double on unix, single on RP2040 / ESP32). Every call allocates
(floats are heap objects): not for a hard IRQ or heap lock.
"""
import math
from array import array


class FloatNet:
    def __init__(self, model):
        blob = model.blob
        self.vel_scale = model.vel_scale
        self.max_torque = model.max_torque
        self.layers = []
        for n_in, n_out, act, w_off, b_off in model.layers:
            w = array("f", blob[w_off:w_off + 4 * n_in * n_out])
            b = array("f", blob[b_off:b_off + 4 * n_out])
            self.layers.append((n_in, n_out, act, w, b))

    def forward(self, theta, theta_dot):
        """Torque (N*m, float) for theta (rad), theta_dot (rad/s)."""
        x = [math.cos(theta), math.sin(theta), theta_dot * self.vel_scale]
        for n_in, n_out, act, w, b in self.layers:
            y = []
            k = 0
            for j in range(n_out):
                s = b[j]
                for i in range(n_in):
                    s += w[k] * x[i]
                    k += 1
                if act == 1:
                    if s < 0.0:
                        s = 0.0
                elif act == 2:
                    s = math.tanh(s)
                elif act == 3:  # hardtanh
                    s = -1.0 if s < -1.0 else (1.0 if s > 1.0 else s)
                elif act == 4:  # sigmoid; via tanh: exp(-s) would overflow (ValueError) for s < -709
                    s = 0.5 + 0.5 * math.tanh(0.5 * s)
                y.append(s)
            x = y
        t = x[0]
        m = self.max_torque
        return m if t > m else (-m if t < -m else t)
