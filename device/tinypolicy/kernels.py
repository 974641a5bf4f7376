# device: the allocation-free viper forward pass of int8 / q15 blobs (input stage -> dense layers -> output stage).
# `forward(blob, inp, out)` computes one inference exactly as the host integer reference (contract:
# models/README.md, version 2); portable.py is the same arithmetic in plain MicroPython.
#
# - blob: the loader's bytearray: the file (the input kinds, the feature table, the output table, weights (int8 via
#   ptr8 or int16 via ptr16), bias and mult (int32 via ptr32) and shift (u8) are read in place), then the kernel
#   descriptor and the two int16 ping-pong activation buffers (layout in loader.py). A8 activations are int8 values
#   (relu: 0..255, sigmoid: 0..256) in the int16 slots; A16 / q15 ones are 16-bit;
# - inp: array('i') of n_inputs int32 inputs (input i in Q`frac_i`; angles Q12 rad, any wrap);
# - out: array('i'): n_outputs int32 outputs (output stage applied to the last layer's hand-off values, clamped to
#   qlo..qhi), or out[0] = the class index (argmax head: first maximum of the last layer's clamped requant values).
#   With desc[_D_RUN] = k < n_layers the pass stops after k layers (0: the input stage) and copies those activations
#   into out instead (Policy.run_layers).
#
# Viper loads are unsigned (ptr8/ptr16) and zero-extended on 64-bit targets (ptr32): every signed load is
# restored with (v ^ m) - m, except activations known to be >= 0 (the previous layer's lo >= 0, e.g. relu).
# Speed: viper keeps only the first 3 locals (the arguments) in registers, and each buffer argument costs a check
# per call, so there are exactly three: the int8 dot products walk `blob` (weights) and `inp` (activations; ptr16)
# as moving pointers with constant indices, and `out` points at the layer's bias / mult.
# All intermediates fit int32 (host- and loader-checked), so 32-bit wrapping ports agree with x64.
# int8 layers with a product shift p > 0 (legal, but never written by the host) are not handled here: Policy runs
# such a blob on the portable kernel (same bits).
import micropython

from tinypolicy.tables import SIN_Q14, TANH_Q14


@micropython.viper
def forward(blob: ptr8, inp: ptr16, out: ptr32):
    one = 1
    sb = one << 31  # sign bit of a 32-bit word (literals > 0x3fffffff would be Python objects)
    b0 = int(blob)
    i0 = int(inp)  # the three arguments live in registers and are re-pointed as walkers below (blob: weights,
    o0 = int(out)  # inp: activations, out: bias / mult): keep their base addresses
    bb = ptr8(b0)
    iw = ptr32(i0)  # the int32 inputs
    res = ptr32(o0)  # the int32 outputs
    desc = ptr32(b0 + ptr32(b0)[3])  # the descriptor follows the file: header word 3 is total_size
    dp = int(desc)
    a0 = b0 + int(desc[13])  # the two int16 activation buffers follow the descriptor
    act = ptr16(a0)
    # ---- input stage: per input, affine (clamp, offset, requant) or angle (cos, sin Q14, requant) ----
    tab = ptr16(SIN_Q14)
    amin = (desc[1] ^ sb) - sb
    amax = desc[2]
    n = int(desc[5])
    fo = int(desc[6])
    f = 0
    i = 0
    b = 0
    fe = ptr32(b0 + fo)  # walks the feature entries: qoff, qlo, qhi, fmult, fshift (low byte of word 4)
    ip = ptr8(b0 + 16)  # walks the input entries: kind at byte 0 (0 affine, 1 angle)
    while i < n:
        v = (iw[i] ^ sb) - sb
        if ip[0]:  # angle: reduce to [-pi, pi] (same result as the contract's while loops), turn units
            if v > 12868:
                v -= ((v - 12869) // 25736 + 1) * 25736
            elif v < -12868:
                v += ((-12869 - v) // 25736 + 1) * 25736
            a = ((v * 10430 + 2048) >> 12) & 0xFFFF
            c = 2
            while c > 0:  # cos(a) = sin(a + quarter turn) first, then sin(a): Q14 from the table, requantized
                b = a
                if c == 2:
                    b = (a + 16384) & 0xFFFF
                r = b & 0x3FFF
                if b & 0x4000:
                    r = 16384 - r
                k = r >> 6
                v = int(tab[k])
                v += ((int(tab[k + 1]) - v) * (r & 63) + 32) >> 6
                if b & 0x8000:
                    v = 0 - v
                v = v * ((fe[3] ^ sb) - sb)
                s = fe[4] & 0xFF
                if s:
                    v = (v + (one << (s - 1))) >> s
                if v < amin:
                    v = amin
                elif v > amax:
                    v = amax
                act[f] = v
                f += 1
                fe = ptr32(int(fe) + 20)
                c -= 1
        else:  # affine: clamp to qlo..qhi, subtract qoff, requantize
            lo = (fe[1] ^ sb) - sb
            hi = (fe[2] ^ sb) - sb
            if v < lo:
                v = lo
            elif v > hi:
                v = hi
            v = (v - ((fe[0] ^ sb) - sb)) * ((fe[3] ^ sb) - sb)
            s = fe[4] & 0xFF
            if s:
                v = (v + (one << (s - 1))) >> s
            if v < amin:
                v = amin
            elif v > amax:
                v = amax
            act[f] = v
            f += 1
            fe = ptr32(int(fe) + 20)
        ip = ptr8(int(ip) + 20)
        i += 1
    # ---- dense layers ----
    wide = desc[3]
    a16 = desc[9]
    amx = desc[10]
    oid = desc[12]  # 1: every output stage is the identity on the last layer's range (the pendulum): skip it
    oo = int(desc[8])
    nl = int(desc[11])
    last = int(desc[0]) - 1
    w16 = ptr16(b0)
    ttab = ptr16(TANH_Q14)
    src = 0
    dst = int(desc[4])
    width = n = f
    d = 16
    y = 0
    best = 0
    pos = 0  # this layer's inputs are known >= 0 (the previous layer's lo >= 0): no sign restore
    li = 0
    while li < nl:
        de = ptr32(dp + 4 * d)
        n_in = int(de[0])
        n_out = int(de[1])
        kind = int(de[2])
        p = int(de[3])
        lo = (de[4] ^ sb) - sb
        hi = (de[5] ^ sb) - sb
        wo = int(de[6])
        bo = int(de[7])
        so = (bo + 2 * n_out) * 4
        n4 = n_in & ~3
        r = n_in & 3
        tb = 0
        if kind == 2 or kind == 4:
            tb = 1
        fast = 1  # int8 weights (always p == 0 here): pointer-walking dot products
        if wide:
            fast = 0
        xa = a0 + 2 * src  # address of this layer's inputs
        ao = ptr16(a0 + 2 * dst)  # its outputs
        blob = ptr8(b0 + wo)  # int8: walks the weights, row by row
        out = ptr32(b0 + 4 * bo)  # bias[j] = out[j], mult[j] = out[n_out + j]
        j = 0
        while j < n_out:
            acc = (out[j] ^ sb) - sb
            inp = ptr16(xa)  # walks this layer's inputs
            if fast:
                e = int(blob) + n4
                if pos:  # unrolled by 4, then the remainder
                    while int(blob) < e:
                        acc += (((blob[0] ^ 0x80) - 0x80) * inp[0] + ((blob[1] ^ 0x80) - 0x80) * inp[1]
                                + ((blob[2] ^ 0x80) - 0x80) * inp[2] + ((blob[3] ^ 0x80) - 0x80) * inp[3])
                        blob = ptr8(int(blob) + 4)
                        inp = ptr16(int(inp) + 8)
                    if r:
                        v = ((blob[0] ^ 0x80) - 0x80) * inp[0]
                        if r > 1:
                            v += ((blob[1] ^ 0x80) - 0x80) * inp[1]
                            if r > 2:
                                v += ((blob[2] ^ 0x80) - 0x80) * inp[2]
                        acc += v
                else:
                    while int(blob) < e:
                        acc += (((blob[0] ^ 0x80) - 0x80) * ((inp[0] ^ 0x8000) - 0x8000)
                                + ((blob[1] ^ 0x80) - 0x80) * ((inp[1] ^ 0x8000) - 0x8000)
                                + ((blob[2] ^ 0x80) - 0x80) * ((inp[2] ^ 0x8000) - 0x8000)
                                + ((blob[3] ^ 0x80) - 0x80) * ((inp[3] ^ 0x8000) - 0x8000))
                        blob = ptr8(int(blob) + 4)
                        inp = ptr16(int(inp) + 8)
                    if r:
                        v = ((blob[0] ^ 0x80) - 0x80) * ((inp[0] ^ 0x8000) - 0x8000)
                        if r > 1:
                            v += ((blob[1] ^ 0x80) - 0x80) * ((inp[1] ^ 0x8000) - 0x8000)
                            if r > 2:
                                v += ((blob[2] ^ 0x80) - 0x80) * ((inp[2] ^ 0x8000) - 0x8000)
                        acc += v
                blob = ptr8(int(blob) + r)
            else:  # int16 weights (q15), products shifted right by p
                x = 0
                e = wo + n4
                while wo < e:
                    acc += ((((w16[wo] ^ 0x8000) - 0x8000) * ((inp[x] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 1] ^ 0x8000) - 0x8000) * ((inp[x + 1] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 2] ^ 0x8000) - 0x8000) * ((inp[x + 2] ^ 0x8000) - 0x8000)) >> p) + (
                        (((w16[wo + 3] ^ 0x8000) - 0x8000) * ((inp[x + 3] ^ 0x8000) - 0x8000)) >> p)
                    wo += 4
                    x += 4
                e += r
                while wo < e:
                    acc += (((w16[wo] ^ 0x8000) - 0x8000) * ((inp[x] ^ 0x8000) - 0x8000)) >> p
                    wo += 1
                    x += 1
            y = acc * ((out[n_out + j] ^ sb) - sb)
            s = int(bb[so + j])
            if s:
                y = (y + (one << (s - 1))) >> s
            if y < lo:
                y = lo
            elif y > hi:
                y = hi
            yp = y  # the argmax head compares the clamped requant values (before tanh / sigmoid)
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
                    if not a16:
                        y = (y + 64) >> 7
                elif a16:
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
            if li < last:
                ao[j] = y
            elif amx:  # argmax head: the first maximum
                if j == 0 or yp > best:
                    best = yp
                    res[0] = j
            elif oid:
                res[j] = y
            else:  # output stage: omult, ooff, qlo, qhi at words 5..8 of the entry, oshift at byte 1
                fe = ptr32(b0 + oo + 36 * j)
                s = int(bb[oo + 36 * j + 1])
                y = y * ((fe[5] ^ sb) - sb)
                if s:
                    y = (y + (one << (s - 1))) >> s
                y += (fe[6] ^ sb) - sb
                lo2 = (fe[7] ^ sb) - sb
                hi2 = (fe[8] ^ sb) - sb
                if y < lo2:
                    y = lo2
                elif y > hi2:
                    y = hi2
                res[j] = y
            j += 1
        src, dst = dst, src
        pos = 0
        if lo >= 0:
            pos = 1
        width = n_out
        d += 8
        li += 1
    if li <= last:  # stopped early (run_layers): hand out the activations of the last layer run
        act = ptr16(a0 + 2 * src)
        j = 0
        while j < width:
            res[j] = (act[j] ^ 0x8000) - 0x8000
            j += 1
