# device: the allocation-free viper forward pass of int8 / q15 policies (features -> dense layers -> torque).
"""`forward(desc, blob, act, inp, out)` computes one policy output exactly as the host integer reference
(host/tinypolicy_host/quant.py, contract in models/README.md):

- desc: array('i') descriptor written by loader.load (layout: loader._D_* / _L_*);
- blob: bytearray holding the whole blob; weights (int8 via ptr8 or int16 via ptr16), bias and mult (int32 via
  ptr32) and shift (u8) are read in place at the offsets in desc;
- act: array('h') of 2 * desc[10]: two int16 activation buffers (ping-pong), each as wide as the widest
  layer; int8 activations are int8 values (relu: 0..255, sigmoid: 0..256) in the int16 slots; Q15 ones are Q`fa`
  of their layer. Activation codes: identity 0, relu 1 and hardtanh 3 are the requant clamp to lo..hi alone;
  tanh 2 and sigmoid 4 go through the tanh table;
- inp: array('i') [theta_q12, theta_dot_q12] (Q12 rad, rad/s; theta any wrap, theta_dot clamped to +-32 rad/s);
- out: array('i'), out[0] receives torque_q12 (Q12 N*m, clamped by the last layer to +-max_torque).

Viper loads are unsigned (ptr8/ptr16) and zero-extended on 64-bit targets (ptr32): every signed load is
restored with (v ^ m) - m. All intermediates fit int32 (host-checked), so 32-bit wrapping ports agree with x64.
One call does everything: features (angle reduction, sin/cos table, requantization) and all layers.
"""
import micropython

from tinypolicy.tables import SIN_Q14, TANH_Q14


@micropython.viper
def forward(desc: ptr32, blob: ptr8, act: ptr16, inp: ptr32, out: ptr32):
    one = 1
    sb = one << 31  # sign bit of a 32-bit word (literals > 0x3fffffff would be Python objects)
    # ---- feature stage: cos, sin (Q14) and clamped theta_dot (Q12) -> x0..x2 in act[0..2] ----
    t = (inp[0] ^ sb) - sb
    if t > 12868:  # reduce to [-pi, pi] (same result as the contract's while loops)
        t -= ((t - 12869) // 25736 + 1) * 25736
    elif t < -12868:
        t += ((-12869 - t) // 25736 + 1) * 25736
    a = ((t * 10430 + 2048) >> 12) & 0xFFFF
    tab = ptr16(SIN_Q14)
    amin = (desc[1] ^ sb) - sb
    amax = desc[2]
    k = 0
    while k < 3:
        if k == 2:
            v = (inp[1] ^ sb) - sb
            if v > 131072:
                v = 131072
            elif v < -131072:
                v = -131072
        else:
            b = a
            if k == 0:
                b = (a + 16384) & 0xFFFF  # cos(a) = sin(a + quarter turn)
            r = b & 0x3FFF
            if b & 0x4000:
                r = 16384 - r
            i = r >> 6
            v = int(tab[i])
            v += ((int(tab[i + 1]) - v) * (r & 63) + 32) >> 6
            if b & 0x8000:
                v = 0 - v
        s = int(desc[7 + k])
        v = v * ((desc[4 + k] ^ sb) - sb)
        if s:
            v = (v + (one << (s - 1))) >> s
        if v < amin:
            v = amin
        elif v > amax:
            v = amax
        act[k] = v
        k += 1
    # ---- dense layers ----
    wide = desc[3]
    w16 = ptr16(blob)
    w32 = ptr32(blob)
    ttab = ptr16(TANH_Q14)
    src = 0
    dst = int(desc[10])
    nl = int(desc[0])
    d = 11
    y = 0
    while nl > 0:
        n_in = int(desc[d])
        n_out = int(desc[d + 1])
        kind = int(desc[d + 2])
        p = int(desc[d + 3])
        lo = (desc[d + 4] ^ sb) - sb
        hi = (desc[d + 5] ^ sb) - sb
        wo = int(desc[d + 6])
        bo = int(desc[d + 7])
        so = (bo + 2 * n_out) * 4
        n4 = n_in & ~3
        j = 0
        while j < n_out:
            acc = (w32[bo + j] ^ sb) - sb
            x = src  # unrolled by 4 (about 20% faster on x64), then the remainder
            e = wo + n4
            if wide:
                while wo < e:
                    acc += ((((w16[wo] ^ 0x8000) - 0x8000) * ((act[x] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 1] ^ 0x8000) - 0x8000) * ((act[x + 1] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 2] ^ 0x8000) - 0x8000) * ((act[x + 2] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 3] ^ 0x8000) - 0x8000) * ((act[x + 3] ^ 0x8000) - 0x8000)) >> p)
                    wo += 4
                    x += 4
                e += n_in - n4
                while wo < e:
                    acc += (((w16[wo] ^ 0x8000) - 0x8000) * ((act[x] ^ 0x8000) - 0x8000)) >> p
                    wo += 1
                    x += 1
            else:
                while wo < e:
                    acc += ((((blob[wo] ^ 0x80) - 0x80) * ((act[x] ^ 0x8000) - 0x8000)) >> p) + (
                        (((blob[wo + 1] ^ 0x80) - 0x80) * ((act[x + 1] ^ 0x8000) - 0x8000)) >> p) + (
                        (((blob[wo + 2] ^ 0x80) - 0x80) * ((act[x + 2] ^ 0x8000) - 0x8000)) >> p) + (
                        (((blob[wo + 3] ^ 0x80) - 0x80) * ((act[x + 3] ^ 0x8000) - 0x8000)) >> p)
                    wo += 4
                    x += 4
                e += n_in - n4
                while wo < e:
                    acc += (((blob[wo] ^ 0x80) - 0x80) * ((act[x] ^ 0x8000) - 0x8000)) >> p
                    wo += 1
                    x += 1
            y = acc * ((w32[bo + n_out + j] ^ sb) - sb)
            s = int(blob[so + j])
            if s:
                y = (y + (one << (s - 1))) >> s
            if y < lo:
                y = lo
            elif y > hi:
                y = hi
            if kind == 2 or kind == 4:  # tanh / sigmoid: y is the clamped pre-activation (+-16384), T(y) in Q14
                u = y
                if u < 0:
                    u = 0 - u
                i = u >> 6
                tv = int(ttab[i])
                tv += ((int(ttab[i + 1]) - tv) * (u & 63) + 32) >> 6
                if y < 0:
                    tv = 0 - tv
                if kind == 4:  # sigmoid(x) = (1 + tanh(x/2)) / 2 with y = x in Q11: Q15 16384 + T, int8 1/256
                    y = tv + 16384
                    if not wide:
                        y = (y + 64) >> 7
                elif wide:
                    y = tv << 1
                    if y > 32767:
                        y = 32767
                    elif y < -32767:
                        y = -32767
                else:
                    y = tv >> 7
                    if y > 127:
                        y = 127
                    elif y < -127:
                        y = -127
            act[dst + j] = y
            j += 1
        src, dst = dst, src
        d += 8
        nl -= 1
    out[0] = y  # the last layer has one output: its value before the int16 store
