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
restored with (v ^ m) - m, except activations known to be >= 0 (the previous layer's lo >= 0, e.g. relu).
Speed: viper keeps only the first 3 locals (the arguments desc, blob, act) in registers, so the int8 dot products
walk `blob` and `act` as moving pointers with constant indices, and `desc` points at the layer's bias / mult.
All intermediates fit int32 (host-checked), so 32-bit wrapping ports agree with x64.
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
    b0 = int(blob)
    a0 = int(act)
    dp = int(desc)  # desc, blob and act are re-pointed below: keep their base addresses
    bb = ptr8(b0)
    w16 = ptr16(b0)
    ttab = ptr16(TANH_Q14)
    src = 0
    dst = int(desc[10])
    nl = int(desc[0])
    d = 11
    y = 0
    pos = 0  # this layer's inputs are known >= 0 (the previous layer's lo >= 0): no sign restore
    while nl > 0:
        desc = ptr32(dp + 4 * d)
        n_in = int(desc[0])
        n_out = int(desc[1])
        kind = int(desc[2])
        p = int(desc[3])
        lo = (desc[4] ^ sb) - sb
        hi = (desc[5] ^ sb) - sb
        wo = int(desc[6])
        bo = int(desc[7])
        so = (bo + 2 * n_out) * 4
        n4 = n_in & ~3
        r = n_in & 3
        tb = 0
        if kind == 2 or kind == 4:
            tb = 1
        fast = 0  # int8 weights, p == 0 (every int8 blob the host writes): pointer-walking dot products
        if not (wide or p):
            fast = 1
        xa = a0 + 2 * src  # address of this layer's inputs
        ao = ptr16(a0 + 2 * dst)  # its outputs
        blob = ptr8(b0 + wo)  # int8: walks the weights, row by row
        desc = ptr32(b0 + 4 * bo)  # now: bias[j] = desc[j], mult[j] = desc[n_out + j]
        j = 0
        while j < n_out:
            acc = (desc[j] ^ sb) - sb
            act = ptr16(xa)
            if fast:
                e = int(blob) + n4
                if pos:  # unrolled by 4, then the remainder
                    while int(blob) < e:
                        acc += (((blob[0] ^ 0x80) - 0x80) * act[0] + ((blob[1] ^ 0x80) - 0x80) * act[1]
                                + ((blob[2] ^ 0x80) - 0x80) * act[2] + ((blob[3] ^ 0x80) - 0x80) * act[3])
                        blob = ptr8(int(blob) + 4)
                        act = ptr16(int(act) + 8)
                    if r:
                        v = ((blob[0] ^ 0x80) - 0x80) * act[0]
                        if r > 1:
                            v += ((blob[1] ^ 0x80) - 0x80) * act[1]
                            if r > 2:
                                v += ((blob[2] ^ 0x80) - 0x80) * act[2]
                        acc += v
                else:
                    while int(blob) < e:
                        acc += (((blob[0] ^ 0x80) - 0x80) * ((act[0] ^ 0x8000) - 0x8000)
                                + ((blob[1] ^ 0x80) - 0x80) * ((act[1] ^ 0x8000) - 0x8000)
                                + ((blob[2] ^ 0x80) - 0x80) * ((act[2] ^ 0x8000) - 0x8000)
                                + ((blob[3] ^ 0x80) - 0x80) * ((act[3] ^ 0x8000) - 0x8000))
                        blob = ptr8(int(blob) + 4)
                        act = ptr16(int(act) + 8)
                    if r:
                        v = ((blob[0] ^ 0x80) - 0x80) * ((act[0] ^ 0x8000) - 0x8000)
                        if r > 1:
                            v += ((blob[1] ^ 0x80) - 0x80) * ((act[1] ^ 0x8000) - 0x8000)
                            if r > 2:
                                v += ((blob[2] ^ 0x80) - 0x80) * ((act[2] ^ 0x8000) - 0x8000)
                        acc += v
                blob = ptr8(int(blob) + r)
            elif wide:
                x = 0
                e = wo + n4
                while wo < e:
                    acc += ((((w16[wo] ^ 0x8000) - 0x8000) * ((act[x] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 1] ^ 0x8000) - 0x8000) * ((act[x + 1] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 2] ^ 0x8000) - 0x8000) * ((act[x + 2] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 3] ^ 0x8000) - 0x8000) * ((act[x + 3] ^ 0x8000) - 0x8000)) >> p)
                    wo += 4
                    x += 4
                e += r
                while wo < e:
                    acc += (((w16[wo] ^ 0x8000) - 0x8000) * ((act[x] ^ 0x8000) - 0x8000)) >> p
                    wo += 1
                    x += 1
            else:  # int8 with a product shift (the host never writes one)
                i = 0
                while i < n_in:
                    acc += (((blob[i] ^ 0x80) - 0x80) * ((act[i] ^ 0x8000) - 0x8000)) >> p
                    i += 1
                blob = ptr8(int(blob) + n_in)
            y = acc * ((desc[n_out + j] ^ sb) - sb)
            s = int(bb[so + j])
            if s:
                y = (y + (one << (s - 1))) >> s
            if y < lo:
                y = lo
            elif y > hi:
                y = hi
            if tb:  # tanh / sigmoid: y is the clamped pre-activation (+-16384), T(y) in Q14
                u = y
                if u < 0:
                    u = 0 - u
                i = u >> 6
                tv = int(ttab[i])
                tv += ((int(ttab[i + 1]) - tv) * (u & 63) + 32) >> 6
                if y < 0:
                    tv = 0 - tv
                if kind == 4:
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
            ao[j] = y
            j += 1
        src, dst = dst, src
        pos = 0
        if lo >= 0:
            pos = 1
        d += 8
        nl -= 1
    out[0] = y
