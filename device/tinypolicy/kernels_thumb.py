# device: the asm_thumb forward pass of int8 / q15 blobs (v2) for ARM boards (armv6m: RP2040; runs on v7-M too).
"""`forward(cb)`: one call computes the input stage, every dense layer and the output stage (or the argmax head) of
an int8 (w8a8, w8a16) or q15 blob v2, bit-exact with the host integer reference (contract: models/README.md; same
results as kernels.forward, the viper kernel used elsewhere).

cb is the address (an int: cheap to pass, no buffer checks) of the call block, an array('i') built once by
`call_block` and kept referenced by the Policy together with every buffer it points at (the GC does not move
objects). Layout, 32-bit words:

    cb[0] desc    the loader's kernel descriptor (loader.py: inside the blob bytearray at byte total_size): 16
                  header ints (0 n_layers, 1 amin, 2 amax, 3 wide, 5 n_inputs, 6 feature-table byte offset,
                  8 output-table byte offset, 9 a16, 10 argmax, 11 layers to run, 12 output stage is the identity),
                  then 8 ints per layer (n_in, n_out, act, pshift, lo, hi, w_off in weight elements, b_off in
                  32-bit words)
    cb[1] blob    the file: input kinds at byte 16 + 20 i, feature entries (qoff, qlo, qhi, fmult, fshift) at
                  desc[6] + 20 f, output entries (omult, ooff, qlo, qhi at bytes 20..35, oshift at byte 1) at
                  desc[8] + 36 j; int8 / int16 weights (row-major by output), bias i32, mult i32, shift u8 per layer
    cb[2] act A   int16 activations in (features go here), 4-aligned
    cb[3] act B   int16 activations, 4-aligned (hidden layers ping-pong A -> B -> A ...)
    cb[4] inp     array('i'): n_inputs int32 (Q`frac` each; angles Q12 rad)
    cb[5] out     array('i'): n_outputs int32 (argmax: out[0] = the index; stopped early: the activations)
    cb[6] SIN_Q14 table (u16 x 258), cb[7] TANH_Q14 table (u16 x 258)
    cb[8] acc     int32 scratch, one word per unit of the widest layer

Registers: r0 = cb on entry; MicroPython's prologue saves r4-r7 and lr, this code saves r8-r12 itself and
returns 0 (a small int: the call allocates nothing). Stack frame (sp-relative bytes): 0 layers left to run,
4 this layer's descriptor, 8 src activations, 12 dst activations, 16 layers up to the last (1: the last layer),
20 accumulators, 24 TANH_Q14, 28 wide (0 int8 weights, 1 int16), 32 a16, 36 desc, 40 TANHQ's saved r1, 48 cb,
52-68 saved r8-r12.
Pieces, one after the other:
- input stage: per input, affine (clamp to qlo..qhi, minus qoff) or angle (reduce to [-pi, pi], turn units,
  cos then sin Q14: subroutines REDUCE, SINQ), each feature requantized (FEATQ: * fmult, rounded >> fshift,
  clamped to amin..amax) into act A;
- dense layers: walks desc. Per layer a dot-product pass writes int32 accumulators to cb[8] (acc_j without bias),
  then a requantization pass adds bias, multiplies, rounds, shifts, clamps (two outputs per iteration), applies
  the tanh table (tanh, sigmoid; subroutine TANHQ: the scheme's hand-off, A8 or 16-bit) and writes int16 outputs.
  Dot-product loops, chosen per layer:
  int8 weights, pshift 0: n_in % 8 == 0 two weight words (8 MACs) per iteration; n_in % 8 == 4 one word;
  n_in == 3 inputs held in registers; other n_in >= 2 (rows not word-aligned) weights byte by byte, inputs two
  per word; int16 weights: n_in == 3 inputs in registers, n_in even two MACs per word; everything else (any
  n_in, any pshift, int8 or int16 weights) a generic loop with ldrsb / ldrsh, one MAC per iteration.
  Inputs (int16) are read as words: both activation buffers start 4-aligned; any width up to the buffers'.
  W8A16 runs the int8-weight loops on 16-bit activations (same code: activations are int16 in every scheme);
- the last layer (REQL): y_j (after tanh / sigmoid its hand-off value; argmax: the clamped requant value) as
  int32, straight into out when desc[12] says the output stage is the identity, else into the accumulators and
  then the output stage (out_j = clamp(((y_j * omult + R(oshift)) >> oshift) + ooff, qlo, qhi)) or the argmax
  (out[0] = index of the first maximum);
- desc[11] < n_layers (Policy.run_layers): stop after that many layers and copy the activations into out.
Instructions the inline assembler lacks (sxtb, sxth, ldrsb, ldrsh, register-offset loads, ldm / stm, sp-relative
loads and stores, high-register compares) are raw halfwords, named _OP_OPERANDS below (checked against an
encoder by tests/test_thumb_kernel.py).
"""
from array import array

import micropython
from micropython import const

# raw Thumb-1 (armv6m) halfwords for what the inline assembler lacks: name = mnemonic and operands
_ADD_SP_48 = const(0xB00C)  # add sp, #48
_CMP_R0_R8 = const(0x4540)  # cmp r0, r8
_CMP_R0_R9 = const(0x4548)  # cmp r0, r9
_CMP_R1_R10 = const(0x4551)  # cmp r1, r10
_CMP_R2_R9 = const(0x454A)  # cmp r2, r9
_CMP_R3_R11 = const(0x455B)  # cmp r3, r11
_CMP_R4_R10 = const(0x4554)  # cmp r4, r10
_CMP_R4_R11 = const(0x455C)  # cmp r4, r11
_CMP_R4_R12 = const(0x4564)  # cmp r4, r12
_CMP_R7_R8 = const(0x4547)  # cmp r7, r8
_CMP_R7_R9 = const(0x454F)  # cmp r7, r9
_LDM_R1_R0 = const(0xC901)  # ldm r1!, {r0}
_LDM_R1_R3 = const(0xC908)  # ldm r1!, {r3}
_LDM_R1_R4 = const(0xC910)  # ldm r1!, {r4}
_LDM_R1_R5 = const(0xC920)  # ldm r1!, {r5}
_LDM_R2_R4_R5 = const(0xCA30)  # ldm r2!, {r4, r5}
_LDM_R2_R5 = const(0xCA20)  # ldm r2!, {r5}
_LDM_R4_R5 = const(0xCC20)  # ldm r4!, {r5}
_LDRSB_R0_R1_R7 = const(0x57C8)  # ldrsb r0, [r1, r7]
_LDRSB_R3_R1_R7 = const(0x57CB)  # ldrsb r3, [r1, r7]
_LDRSB_R4_R1_R6 = const(0x578C)  # ldrsb r4, [r1, r6]
_LDRSH_R4_R1_R6 = const(0x5F8C)  # ldrsh r4, [r1, r6]
_LDRSH_R5_R2_R6 = const(0x5F95)  # ldrsh r5, [r2, r6]
_LDR_R0_SP_0 = const(0x9800)  # ldr r0, [sp, #0]
_LDR_R0_SP_16 = const(0x9804)  # ldr r0, [sp, #16]
_LDR_R0_SP_4 = const(0x9801)  # ldr r0, [sp, #4]
_LDR_R0_SP_48 = const(0x980C)  # ldr r0, [sp, #48]
_LDR_R0_SP_8 = const(0x9802)  # ldr r0, [sp, #8]
_LDR_R1_SP_12 = const(0x9903)  # ldr r1, [sp, #12]
_LDR_R1_SP_20 = const(0x9905)  # ldr r1, [sp, #20]
_LDR_R1_SP_40 = const(0x990A)  # ldr r1, [sp, #40]
_LDR_R2_SP_0 = const(0x9A00)  # ldr r2, [sp, #0]
_LDR_R2_SP_28 = const(0x9A07)  # ldr r2, [sp, #28]
_LDR_R2_SP_8 = const(0x9A02)  # ldr r2, [sp, #8]
_LDR_R4_SP_12 = const(0x9C03)  # ldr r4, [sp, #12]
_LDR_R4_SP_20 = const(0x9C05)  # ldr r4, [sp, #20]
_LDR_R4_SP_28 = const(0x9C07)  # ldr r4, [sp, #28]
_LDR_R5_R2_R7 = const(0x59D5)  # ldr r5, [r2, r7]
_LDR_R5_SP_24 = const(0x9D06)  # ldr r5, [sp, #24]
_LDR_R5_SP_32 = const(0x9D08)  # ldr r5, [sp, #32]
_LDR_R6_SP_16 = const(0x9E04)  # ldr r6, [sp, #16]
_LDR_R6_SP_36 = const(0x9E09)  # ldr r6, [sp, #36]
_LDR_R7_SP_4 = const(0x9F01)  # ldr r7, [sp, #4]
_STM_R1_R0 = const(0xC101)  # stm r1!, {r0}
_STM_R3_R0 = const(0xC301)  # stm r3!, {r0}
_STM_R4_R0 = const(0xC401)  # stm r4!, {r0}
_STR_R0_SP_0 = const(0x9000)  # str r0, [sp, #0]
_STR_R0_SP_12 = const(0x9003)  # str r0, [sp, #12]
_STR_R0_SP_16 = const(0x9004)  # str r0, [sp, #16]
_STR_R0_SP_4 = const(0x9001)  # str r0, [sp, #4]
_STR_R1_SP_36 = const(0x9109)  # str r1, [sp, #36]
_STR_R1_SP_4 = const(0x9101)  # str r1, [sp, #4]
_STR_R1_SP_40 = const(0x910A)  # str r1, [sp, #40]
_STR_R1_SP_8 = const(0x9102)  # str r1, [sp, #8]
_STR_R2_SP_0 = const(0x9200)  # str r2, [sp, #0]
_STR_R2_SP_12 = const(0x9203)  # str r2, [sp, #12]
_STR_R2_SP_16 = const(0x9204)  # str r2, [sp, #16]
_STR_R2_SP_20 = const(0x9205)  # str r2, [sp, #20]
_STR_R2_SP_24 = const(0x9206)  # str r2, [sp, #24]
_STR_R2_SP_28 = const(0x9207)  # str r2, [sp, #28]
_STR_R2_SP_32 = const(0x9208)  # str r2, [sp, #32]
_STR_R2_SP_8 = const(0x9202)  # str r2, [sp, #8]
_SUB_SP_48 = const(0xB08C)  # sub sp, #48
_SXTB_R3_R3 = const(0xB25B)  # sxtb r3, r3
_SXTB_R4_R4 = const(0xB264)  # sxtb r4, r4
_SXTB_R7_R3 = const(0xB25F)  # sxtb r7, r3
_SXTH_R0_R0 = const(0xB200)  # sxth r0, r0
_SXTH_R3_R3 = const(0xB21B)  # sxth r3, r3
_SXTH_R4_R4 = const(0xB224)  # sxth r4, r4
_SXTH_R5_R5 = const(0xB22D)  # sxth r5, r5
_SXTH_R6_R4 = const(0xB226)  # sxth r6, r4
_SXTH_R6_R5 = const(0xB22E)  # sxth r6, r5
_SXTH_R6_R6 = const(0xB236)  # sxth r6, r6
_SXTH_R7_R5 = const(0xB22F)  # sxth r7, r5
_UXTH_R4_R4 = const(0xB2A4)  # uxth r4, r4
_UXTH_R5_R5 = const(0xB2AD)  # uxth r5, r5


@micropython.asm_thumb
def forward(r0):
    # ---- save r8-r12, frame ----
    mov(r1, r8)
    mov(r2, r9)
    mov(r3, r10)
    mov(r4, r11)
    mov(r5, r12)
    push({r0, r1, r2, r3, r4, r5})
    data(2, _SUB_SP_48)
    # ---- input stage: per input, affine (clamp, offset, requant) or angle (cos, sin, requant) -> act A ----
    ldr(r7, [r0, 0])  # desc
    ldr(r2, [r7, 4])
    mov(r8, r2)  # amin
    ldr(r2, [r7, 8])
    mov(r9, r2)  # amax
    ldr(r6, [r0, 4])  # blob
    mov(r2, r6)
    add(r2, 16)
    mov(r11, r2)  # r11 walks the input entries (kind: byte 0)
    ldr(r1, [r7, 24])
    add(r1, r1, r6)  # r1 walks the feature entries (qoff, qlo, qhi, fmult, fshift byte)
    ldr(r4, [r0, 16])
    mov(r10, r4)  # r10 walks inp
    ldr(r5, [r7, 20])
    lsl(r5, r5, 2)
    add(r5, r5, r4)
    mov(r12, r5)  # end of inp
    ldr(r2, [r0, 8])  # act A: feature output pointer
    ldr(r3, [r0, 24])  # SIN_Q14
    label(INPUT)
    mov(r4, r10)
    data(2, _LDM_R4_R5)  # v = inp[i]
    mov(r10, r4)
    mov(r4, r11)
    ldrb(r7, [r4, 0])
    add(r4, 20)
    mov(r11, r4)
    cmp(r7, 0)
    bne(ANGLE)
    ldr(r4, [r1, 4])  # affine: t = clamp(v, qlo, qhi) - qoff
    cmp(r5, r4)
    bge(AF1)
    mov(r5, r4)
    label(AF1)
    ldr(r4, [r1, 8])
    cmp(r5, r4)
    ble(AF2)
    mov(r5, r4)
    label(AF2)
    ldr(r4, [r1, 0])
    sub(r7, r5, r4)
    bl(FEATQ)
    b(INNEXT)
    label(ANGLE)
    mov(r6, 0x32)
    lsl(r6, r6, 8)
    add(r6, 0x44)  # 12868 = pi Q12
    cmp(r5, r6)
    bgt(RPOS)
    neg(r7, r6)
    cmp(r5, r7)
    bge(RDONE)
    neg(r5, r5)  # t < -pi: reduce -t (unsigned: -2^31 stays 2^31), negate back
    bl(REDUCE)
    neg(r5, r5)
    b(RDONE)
    label(RPOS)
    bl(REDUCE)
    label(RDONE)
    mov(r7, 0x28)
    lsl(r7, r7, 8)
    add(r7, 0xBE)  # 10430
    mul(r5, r7)
    mov(r7, 1)
    lsl(r7, r7, 11)
    add(r5, r5, r7)
    asr(r5, r5, 12)
    data(2, _UXTH_R5_R5)  # a: turn units
    mov(r0, r5)
    mov(r4, 1)
    lsl(r4, r4, 14)
    add(r4, r4, r5)
    data(2, _UXTH_R4_R4)  # cos(a) = sin((a + 16384) & 0xFFFF)
    bl(SINQ)
    bl(FEATQ)
    mov(r4, r0)
    bl(SINQ)
    bl(FEATQ)
    label(INNEXT)
    mov(r4, r10)
    data(2, _CMP_R4_R12)
    bne(INPUT)
    # ---- dense layers: frame slots ----
    data(2, _LDR_R0_SP_48)  # cb
    ldr(r1, [r0, 0])
    data(2, _STR_R1_SP_36)  # desc
    ldr(r2, [r1, 0])
    data(2, _STR_R2_SP_16)  # layers up to the last one (1: this is the last layer)
    ldr(r2, [r1, 12])
    data(2, _STR_R2_SP_28)  # wide (0 int8 weights, 1 int16)
    ldr(r2, [r1, 36])
    data(2, _STR_R2_SP_32)  # a16 (16-bit tanh / sigmoid hand-off)
    ldr(r2, [r1, 44])
    data(2, _STR_R2_SP_0)  # layers left to run (desc[11])
    add(r1, 64)
    data(2, _STR_R1_SP_4)  # descriptor of the current layer
    ldr(r2, [r0, 8])
    data(2, _STR_R2_SP_8)  # src activations
    ldr(r2, [r0, 12])
    data(2, _STR_R2_SP_12)  # dst activations
    ldr(r2, [r0, 32])
    data(2, _STR_R2_SP_20)  # int32 accumulators
    ldr(r2, [r0, 28])
    data(2, _STR_R2_SP_24)  # TANH_Q14
    data(2, _LDR_R2_SP_0)
    cmp(r2, 0)
    bne(LAYER)
    b(STOP)  # run 0 layers: the features
    label(LAYER)
    data(2, _LDR_R7_SP_4)  # r7 = this layer's 8 ints
    data(2, _LDR_R0_SP_48)
    ldr(r6, [r0, 4])  # blob
    ldr(r1, [r7, 24])  # w_off (elements)
    data(2, _LDR_R2_SP_28)
    lsl(r1, r2)
    add(r1, r1, r6)  # r1 = weights, walked row after row
    data(2, _LDR_R2_SP_8)
    mov(r8, r2)  # r8 = inputs
    ldr(r3, [r7, 0])  # n_in
    lsl(r4, r3, 1)
    add(r4, r4, r2)
    mov(r9, r4)  # r9 = end of the inputs
    data(2, _LDR_R4_SP_20)
    mov(r10, r4)  # r10 = next accumulator
    ldr(r5, [r7, 4])
    lsl(r5, r5, 2)
    add(r5, r5, r4)
    mov(r11, r5)  # r11 = end of the accumulators
    ldr(r5, [r7, 12])  # pshift
    data(2, _LDR_R4_SP_28)
    cmp(r4, 0)
    bne(TOWIDE)
    cmp(r5, 0)
    bne(TOPG8)
    lsl(r4, r3, 30)
    bne(TOPB8)
    lsl(r4, r3, 29)
    bne(TOP8)
    b(P88ROW)
    label(TOWIDE)  # (conditional branches reach +-256 bytes)
    b(WIDE)
    label(TOPG8)
    b(PG8)
    label(TOPB8)
    b(PB8)
    label(TOP8)
    b(P8ROW)
    # int8 weights, p = 0, n_in % 8 == 0: two words of weights (8 MACs) per iteration
    label(P88ROW)
    mov(r0, 0)
    mov(r2, r8)
    label(P88LOOP)
    data(2, _LDM_R1_R3)
    data(2, _LDM_R2_R4_R5)
    data(2, _SXTH_R6_R4)
    data(2, _SXTB_R7_R3)
    mul(r6, r7)
    add(r0, r0, r6)
    asr(r4, r4, 16)
    lsl(r7, r3, 16)
    asr(r7, r7, 24)
    mul(r4, r7)
    add(r0, r0, r4)
    data(2, _SXTH_R6_R5)
    lsl(r7, r3, 8)
    asr(r7, r7, 24)
    mul(r6, r7)
    add(r0, r0, r6)
    asr(r5, r5, 16)
    asr(r3, r3, 24)
    mul(r5, r3)
    add(r0, r0, r5)
    data(2, _LDM_R1_R3)
    data(2, _LDM_R2_R4_R5)
    data(2, _SXTH_R6_R4)
    data(2, _SXTB_R7_R3)
    mul(r6, r7)
    add(r0, r0, r6)
    asr(r4, r4, 16)
    lsl(r7, r3, 16)
    asr(r7, r7, 24)
    mul(r4, r7)
    add(r0, r0, r4)
    data(2, _SXTH_R6_R5)
    lsl(r7, r3, 8)
    asr(r7, r7, 24)
    mul(r6, r7)
    add(r0, r0, r6)
    asr(r5, r5, 16)
    asr(r3, r3, 24)
    mul(r5, r3)
    add(r0, r0, r5)
    data(2, _CMP_R2_R9)
    bne(P88LOOP)
    mov(r4, r10)
    data(2, _STM_R4_R0)
    mov(r10, r4)
    data(2, _CMP_R4_R11)
    bne(P88ROW)
    b(REQ)
    # int8 weights, p = 0, n_in % 4 == 0: per word of weights 4 MACs (int16 inputs two per word)
    label(P8ROW)
    mov(r0, 0)
    mov(r2, r8)
    label(P8LOOP)
    data(2, _LDM_R1_R3)
    data(2, _LDM_R2_R4_R5)
    data(2, _SXTH_R6_R4)
    data(2, _SXTB_R7_R3)
    mul(r6, r7)
    add(r0, r0, r6)
    asr(r4, r4, 16)
    lsl(r7, r3, 16)
    asr(r7, r7, 24)
    mul(r4, r7)
    add(r0, r0, r4)
    data(2, _SXTH_R6_R5)
    lsl(r7, r3, 8)
    asr(r7, r7, 24)
    mul(r6, r7)
    add(r0, r0, r6)
    asr(r5, r5, 16)
    asr(r3, r3, 24)
    mul(r5, r3)
    add(r0, r0, r5)
    data(2, _CMP_R2_R9)
    bne(P8LOOP)
    mov(r4, r10)
    data(2, _STM_R4_R0)
    mov(r10, r4)
    data(2, _CMP_R4_R11)
    bne(P8ROW)
    b(REQ)
    label(WIDE)
    cmp(r3, 3)
    bne(W2)
    b(PS3W)
    label(W2)
    lsl(r4, r3, 31)
    beq(P16)
    b(PG16)
    label(P16)
    # int16 weights, n_in even: 2 MACs per word, products >> p
    mov(r3, r5)
    label(P16ROW)
    mov(r0, 0)
    mov(r2, r8)
    label(P16LOOP)
    data(2, _LDM_R1_R4)
    data(2, _LDM_R2_R5)
    data(2, _SXTH_R6_R4)
    data(2, _SXTH_R7_R5)
    mul(r6, r7)
    asr(r6, r3)
    add(r0, r0, r6)
    asr(r4, r4, 16)
    asr(r5, r5, 16)
    mul(r4, r5)
    asr(r4, r3)
    add(r0, r0, r4)
    data(2, _CMP_R2_R9)
    bne(P16LOOP)
    mov(r4, r10)
    data(2, _STM_R4_R0)
    mov(r10, r4)
    data(2, _CMP_R4_R11)
    bne(P16ROW)
    b(REQ)
    # int8 weights, p = 0, n_in >= 2 not a multiple of 4 (rows not word-aligned): weights byte by byte, inputs
    # two per word, the odd last one alone (r12 = n_in & 1)
    label(PB8)
    cmp(r3, 3)
    beq(PS3)
    cmp(r3, 1)
    beq(PG8)
    lsl(r4, r3, 31)
    lsr(r4, r4, 31)
    mov(r12, r4)
    lsr(r4, r3, 1)
    lsl(r4, r4, 2)
    mov(r5, r8)
    add(r4, r4, r5)
    mov(r9, r4)  # r9 = end of the input pairs
    mov(r7, 0)
    label(PB8ROW)
    mov(r0, 0)
    mov(r2, r8)
    label(PB8LOOP)
    data(2, _LDM_R2_R5)
    data(2, _LDRSB_R3_R1_R7)
    ldrb(r4, [r1, 1])
    data(2, _SXTB_R4_R4)
    add(r1, 2)
    data(2, _SXTH_R6_R5)
    mul(r3, r6)
    add(r0, r0, r3)
    asr(r5, r5, 16)
    mul(r4, r5)
    add(r0, r0, r4)
    data(2, _CMP_R2_R9)
    bne(PB8LOOP)
    mov(r4, r12)
    cmp(r4, 0)
    beq(PB8END)
    data(2, _LDRSB_R3_R1_R7)
    ldrh(r5, [r2, 0])
    data(2, _SXTH_R5_R5)
    mul(r3, r5)
    add(r0, r0, r3)
    add(r1, 1)
    label(PB8END)
    mov(r4, r10)
    data(2, _STM_R4_R0)
    mov(r10, r4)
    data(2, _CMP_R4_R11)
    bne(PB8ROW)
    b(REQ)
    # int8 weights, p = 0, n_in = 3 (v1's three features): the inputs stay in r4-r6 across the rows
    label(PS3)
    mov(r2, r8)
    ldrh(r4, [r2, 0])
    data(2, _SXTH_R4_R4)
    ldrh(r5, [r2, 2])
    data(2, _SXTH_R5_R5)
    ldrh(r6, [r2, 4])
    data(2, _SXTH_R6_R6)
    mov(r7, 0)
    label(PS3ROW)
    data(2, _LDRSB_R0_R1_R7)
    mul(r0, r4)
    ldrb(r3, [r1, 1])
    data(2, _SXTB_R3_R3)
    mul(r3, r5)
    add(r0, r0, r3)
    ldrb(r3, [r1, 2])
    data(2, _SXTB_R3_R3)
    mul(r3, r6)
    add(r0, r0, r3)
    add(r1, 3)
    mov(r3, r10)
    data(2, _STM_R3_R0)
    mov(r10, r3)
    data(2, _CMP_R3_R11)
    bne(PS3ROW)
    b(REQ)
    # int16 weights, n_in = 3: the inputs stay in r4-r6, products >> p (r7)
    label(PS3W)
    mov(r7, r5)
    mov(r2, r8)
    ldrh(r4, [r2, 0])
    data(2, _SXTH_R4_R4)
    ldrh(r5, [r2, 2])
    data(2, _SXTH_R5_R5)
    ldrh(r6, [r2, 4])
    data(2, _SXTH_R6_R6)
    label(PS3WROW)
    ldrh(r0, [r1, 0])
    data(2, _SXTH_R0_R0)
    mul(r0, r4)
    asr(r0, r7)
    ldrh(r3, [r1, 2])
    data(2, _SXTH_R3_R3)
    mul(r3, r5)
    asr(r3, r7)
    add(r0, r0, r3)
    ldrh(r3, [r1, 4])
    data(2, _SXTH_R3_R3)
    mul(r3, r6)
    asr(r3, r7)
    add(r0, r0, r3)
    add(r1, 6)
    mov(r3, r10)
    data(2, _STM_R3_R0)
    mov(r10, r3)
    data(2, _CMP_R3_R11)
    bne(PS3WROW)
    b(REQ)
    # generic: one MAC per iteration, any n_in, any p (int8 / int16 weights)
    label(PG8)
    mov(r3, r5)
    mov(r6, 0)
    label(PG8ROW)
    mov(r0, 0)
    mov(r2, r8)
    label(PG8LOOP)
    data(2, _LDRSB_R4_R1_R6)
    data(2, _LDRSH_R5_R2_R6)
    mul(r4, r5)
    asr(r4, r3)
    add(r0, r0, r4)
    add(r1, 1)
    add(r2, 2)
    data(2, _CMP_R2_R9)
    bne(PG8LOOP)
    mov(r4, r10)
    data(2, _STM_R4_R0)
    mov(r10, r4)
    data(2, _CMP_R4_R11)
    bne(PG8ROW)
    b(REQ)
    label(PG16)
    mov(r3, r5)
    mov(r6, 0)
    label(PG16ROW)
    mov(r0, 0)
    mov(r2, r8)
    label(PG16LOOP)
    data(2, _LDRSH_R4_R1_R6)
    data(2, _LDRSH_R5_R2_R6)
    mul(r4, r5)
    asr(r4, r3)
    add(r0, r0, r4)
    add(r1, 2)
    add(r2, 2)
    data(2, _CMP_R2_R9)
    bne(PG16LOOP)
    mov(r4, r10)
    data(2, _STM_R4_R0)
    mov(r10, r4)
    data(2, _CMP_R4_R11)
    bne(PG16ROW)
    # ---- requantization: y = clamp((acc + b) * mult + R(s)) >> s, lo, hi) [, table] -> int16 dst ----
    label(REQ)
    data(2, _LDR_R7_SP_4)
    data(2, _LDR_R0_SP_48)
    ldr(r6, [r0, 4])
    ldr(r2, [r7, 28])
    lsl(r2, r2, 2)
    add(r2, r2, r6)  # r2 = bias (mult at +4 n_out)
    ldr(r5, [r7, 4])
    lsl(r5, r5, 2)
    add(r3, r2, r5)
    add(r3, r3, r5)  # r3 = shift bytes
    ldr(r0, [r7, 16])
    mov(r8, r0)  # lo
    ldr(r0, [r7, 20])
    mov(r9, r0)  # hi
    data(2, _LDR_R4_SP_12)  # r4 = dst
    lsr(r6, r5, 1)
    add(r6, r6, r4)
    mov(r10, r6)  # end of dst
    ldr(r0, [r7, 8])  # activation code
    sub(r5, 4)
    mov(r7, r5)  # r7 = offset of mult[j] from bias + 4 (j + 1)
    data(2, _LDR_R1_SP_20)  # r1 = accumulators
    data(2, _LDR_R6_SP_16)
    cmp(r6, 1)
    bne(HIDDEN)
    b(REQL)  # the last layer: int32 outputs, the output stage or the argmax
    label(HIDDEN)
    cmp(r0, 2)
    beq(REQT)
    cmp(r0, 4)
    beq(REQT)
    add(r6, r5, 4)
    lsr(r6, r6, 3)
    lsl(r6, r6, 2)
    add(r6, r6, r4)
    mov(r11, r6)  # r11 = end of the output pairs
    cmp(r6, r4)
    beq(RQTAIL)
    label(RQ2)  # two outputs per iteration
    data(2, _LDM_R1_R0)
    data(2, _LDM_R2_R5)
    add(r0, r0, r5)
    data(2, _LDR_R5_R2_R7)
    mul(r0, r5)
    ldrb(r5, [r3, 0])
    mov(r6, 1)
    lsl(r6, r5)
    lsr(r6, r6, 1)
    add(r0, r0, r6)
    asr(r0, r5)
    data(2, _CMP_R0_R8)
    bge(Q1)
    mov(r0, r8)
    label(Q1)
    data(2, _CMP_R0_R9)
    ble(Q2)
    mov(r0, r9)
    label(Q2)
    strh(r0, [r4, 0])
    data(2, _LDM_R1_R0)
    data(2, _LDM_R2_R5)
    add(r0, r0, r5)
    data(2, _LDR_R5_R2_R7)
    mul(r0, r5)
    ldrb(r5, [r3, 1])
    mov(r6, 1)
    lsl(r6, r5)
    lsr(r6, r6, 1)
    add(r0, r0, r6)
    asr(r0, r5)
    data(2, _CMP_R0_R8)
    bge(Q3)
    mov(r0, r8)
    label(Q3)
    data(2, _CMP_R0_R9)
    ble(Q4)
    mov(r0, r9)
    label(Q4)
    strh(r0, [r4, 2])
    add(r3, 2)
    add(r4, 4)
    data(2, _CMP_R4_R11)
    bne(RQ2)
    label(RQTAIL)  # odd n_out: the last output
    data(2, _CMP_R4_R10)
    beq(NEXT)
    data(2, _LDM_R1_R0)
    data(2, _LDM_R2_R5)
    add(r0, r0, r5)
    data(2, _LDR_R5_R2_R7)
    mul(r0, r5)
    ldrb(r5, [r3, 0])
    mov(r6, 1)
    lsl(r6, r5)
    lsr(r6, r6, 1)
    add(r0, r0, r6)
    asr(r0, r5)
    data(2, _CMP_R0_R8)
    bge(Q5)
    mov(r0, r8)
    label(Q5)
    data(2, _CMP_R0_R9)
    ble(Q6)
    mov(r0, r9)
    label(Q6)
    strh(r0, [r4, 0])
    b(NEXT)
    # tanh (2) / sigmoid (4): y is the clamped pre-activation, TANHQ hands on the table value
    label(REQT)
    data(2, _LDR_R5_SP_24)
    mov(r11, r5)  # TANH_Q14
    data(2, _LDR_R5_SP_32)
    cmp(r0, 4)
    bne(M1)
    add(r5, 2)
    label(M1)
    mov(r12, r5)  # 0 tanh A8, 1 tanh A16, 2 sigmoid A8, 3 sigmoid A16
    label(RQT)
    data(2, _LDM_R1_R0)
    data(2, _LDM_R2_R5)
    add(r0, r0, r5)
    data(2, _LDR_R5_R2_R7)
    mul(r0, r5)
    ldrb(r5, [r3, 0])
    add(r3, 1)
    mov(r6, 1)
    lsl(r6, r5)
    lsr(r6, r6, 1)
    add(r0, r0, r6)
    asr(r0, r5)
    data(2, _CMP_R0_R8)
    bge(QT1)
    mov(r0, r8)
    label(QT1)
    data(2, _CMP_R0_R9)
    ble(QT2)
    mov(r0, r9)
    label(QT2)
    bl(TANHQ)
    strh(r0, [r4, 0])
    add(r4, 2)
    data(2, _CMP_R4_R10)
    bne(RQT)
    # ---- next layer ----
    label(NEXT)
    data(2, _LDR_R0_SP_8)
    data(2, _LDR_R1_SP_12)
    data(2, _STR_R1_SP_8)
    data(2, _STR_R0_SP_12)
    data(2, _LDR_R0_SP_4)
    add(r0, 32)
    data(2, _STR_R0_SP_4)
    data(2, _LDR_R0_SP_16)
    sub(r0, 1)
    data(2, _STR_R0_SP_16)
    data(2, _LDR_R0_SP_0)
    sub(r0, 1)
    data(2, _STR_R0_SP_0)
    beq(STOP)
    b(LAYER)
    # stopped before the last layer (desc[11] < n_layers: Policy.run_layers): the activations -> out (int32)
    label(STOP)
    data(2, _LDR_R0_SP_48)
    ldr(r1, [r0, 20])  # out
    data(2, _LDR_R7_SP_4)
    ldr(r3, [r7, 0])  # width: the next layer's n_in
    data(2, _LDR_R2_SP_8)  # src activations
    label(CP)
    ldrh(r0, [r2, 0])
    data(2, _SXTH_R0_R0)
    data(2, _STM_R1_R0)
    add(r2, 2)
    sub(r3, 1)
    bne(CP)
    label(DONE)
    data(2, _ADD_SP_48)
    pop({r0, r1, r2, r3, r4, r5})
    mov(r8, r1)
    mov(r9, r2)
    mov(r10, r3)
    mov(r11, r4)
    mov(r12, r5)
    mov(r0, 0)
    b(EXIT)
    # ---- the last layer: y_j (tanh / sigmoid: the hand-off value; argmax: the clamped requant value) as int32,
    # into out directly (desc[12] OUTID: the output stage is the identity) or in place into the accumulators,
    # then the output stage (omult, oshift, ooff, qlo, qhi of the 36-byte output entries) or the argmax ----
    label(REQL)  # r0 act, r1 acc, r2 bias, r3 shift bytes, r7 mult offset, r8 lo, r9 hi
    data(2, _LDR_R6_SP_36)  # desc
    mov(r5, 0)
    mov(r11, r5)  # 0: no table
    ldr(r4, [r6, 40])  # argmax
    cmp(r4, 0)
    bne(RLACC)
    cmp(r0, 2)
    beq(RLT)
    cmp(r0, 4)
    bne(RLNT)
    label(RLT)
    data(2, _LDR_R5_SP_24)
    mov(r11, r5)  # TANH_Q14
    data(2, _LDR_R5_SP_32)
    cmp(r0, 4)
    bne(RLM)
    add(r5, 2)
    label(RLM)
    mov(r12, r5)
    label(RLNT)
    ldr(r4, [r6, 48])  # OUTID
    cmp(r4, 0)
    beq(RLACC)
    data(2, _LDR_R0_SP_48)
    ldr(r4, [r0, 20])  # out
    b(RLGO)
    label(RLACC)
    mov(r4, r1)  # in place
    label(RLGO)
    add(r5, r7, 4)
    add(r5, r5, r4)
    mov(r10, r5)  # end of the int32 outputs
    label(RL)
    data(2, _LDM_R1_R0)
    data(2, _LDM_R2_R5)
    add(r0, r0, r5)
    data(2, _LDR_R5_R2_R7)
    mul(r0, r5)
    ldrb(r5, [r3, 0])
    add(r3, 1)
    mov(r6, 1)
    lsl(r6, r5)
    lsr(r6, r6, 1)
    add(r0, r0, r6)
    asr(r0, r5)
    data(2, _CMP_R0_R8)
    bge(QL1)
    mov(r0, r8)
    label(QL1)
    data(2, _CMP_R0_R9)
    ble(QL2)
    mov(r0, r9)
    label(QL2)
    mov(r5, r11)
    cmp(r5, 0)
    beq(RL2)
    bl(TANHQ)
    label(RL2)
    str(r0, [r4, 0])
    add(r4, 4)
    data(2, _CMP_R4_R10)
    bne(RL)
    data(2, _LDR_R6_SP_36)
    ldr(r5, [r6, 40])
    cmp(r5, 0)
    bne(ARGMAX)
    ldr(r5, [r6, 48])
    cmp(r5, 0)
    bne(DONE)  # OUTID: written to out
    data(2, _LDR_R0_SP_48)
    ldr(r3, [r0, 20])  # out
    ldr(r2, [r0, 4])
    ldr(r5, [r6, 32])
    add(r2, r2, r5)  # output entries
    data(2, _LDR_R1_SP_20)  # the accumulators now hold y
    label(OS)  # out_j = clamp(((y_j * omult + R(oshift)) >> oshift) + ooff, qlo, qhi)
    data(2, _LDM_R1_R0)
    ldr(r5, [r2, 20])
    mul(r0, r5)
    ldrb(r5, [r2, 1])
    mov(r6, 1)
    lsl(r6, r5)
    lsr(r6, r6, 1)
    add(r0, r0, r6)
    asr(r0, r5)
    ldr(r5, [r2, 24])
    add(r0, r0, r5)
    ldr(r5, [r2, 28])
    cmp(r0, r5)
    bge(OS1)
    mov(r0, r5)
    label(OS1)
    ldr(r5, [r2, 32])
    cmp(r0, r5)
    ble(OS2)
    mov(r0, r5)
    label(OS2)
    data(2, _STM_R3_R0)
    add(r2, 36)
    data(2, _CMP_R1_R10)
    bne(OS)
    b(DONE)
    label(ARGMAX)  # out[0] = index of the first maximum
    data(2, _LDR_R1_SP_20)
    data(2, _LDM_R1_R0)
    mov(r3, 0)
    mov(r4, 0)
    label(AM)
    data(2, _CMP_R1_R10)
    beq(AMD)
    data(2, _LDM_R1_R5)
    add(r4, 1)
    cmp(r5, r0)
    ble(AM)
    mov(r0, r5)
    mov(r3, r4)
    b(AM)
    label(AMD)
    data(2, _LDR_R0_SP_48)
    ldr(r1, [r0, 20])
    str(r3, [r1, 0])
    b(DONE)
    # ---- subroutines (bl; lr is saved by the prologue) ----
    # _reduce: r5 = u (unsigned, > 12868), r6 = 12868 -> r5 = u - k * 25736 in [-12867, 12868]; uses r4, r7
    label(REDUCE)
    mov(r7, 0x64)
    lsl(r7, r7, 8)
    add(r7, 0x88)
    lsl(r7, r7, 16)  # c = 25736 << 16
    label(RLOOP)
    add(r4, r7, r6)
    cmp(r5, r4)
    bls(RSKIP)
    sub(r5, r5, r7)  # u > c + pi: subtract c
    label(RSKIP)
    lsr(r7, r7, 1)
    cmp(r7, r6)
    bne(RLOOP)
    cmp(r5, r6)
    bls(RFIN)
    lsl(r7, r6, 1)
    sub(r5, r5, r7)
    label(RFIN)
    bx(lr)
    # _sinq: r4 = b (turn units 0..65535), r3 = SIN_Q14 -> r7 = sin(b) Q14; uses r5, r6
    label(SINQ)
    lsl(r5, r4, 18)
    lsr(r5, r5, 18)  # r = b & 0x3FFF
    lsl(r6, r4, 17)
    bpl(S1)
    mov(r6, 1)
    lsl(r6, r6, 14)
    sub(r5, r6, r5)  # odd quadrant: 16384 - r
    label(S1)
    lsr(r6, r5, 6)
    lsl(r6, r6, 1)
    add(r6, r6, r3)
    ldrh(r7, [r6, 0])
    ldrh(r6, [r6, 2])
    sub(r6, r6, r7)
    lsl(r5, r5, 26)
    lsr(r5, r5, 26)
    mul(r6, r5)
    add(r6, 32)
    asr(r6, r6, 6)
    add(r7, r7, r6)
    lsl(r4, r4, 16)
    bpl(S2)
    neg(r7, r7)  # quadrants 2, 3
    label(S2)
    bx(lr)
    # _featq: r7 = v, r1 = feature entry -> act[k] = clamp((v * fmult + R(fshift)) >> fshift, amin, amax); r1, r2
    # step to the next entry / activation; uses r4, r5
    label(FEATQ)
    ldr(r5, [r1, 12])
    mul(r7, r5)
    ldrb(r5, [r1, 16])
    mov(r4, 1)
    lsl(r4, r5)
    lsr(r4, r4, 1)
    add(r7, r7, r4)
    asr(r7, r5)
    data(2, _CMP_R7_R8)
    bge(F1)
    mov(r7, r8)
    label(F1)
    data(2, _CMP_R7_R9)
    ble(F2)
    mov(r7, r9)
    label(F2)
    strh(r7, [r2, 0])
    add(r2, 2)
    add(r1, 20)
    bx(lr)
    # _tanhq: r0 = y (clamped pre-activation), r11 = TANH_Q14, r12 = mode -> r0 = the hand-off value of the
    # scheme (tanh: A8 clamp(t >> 7, +-127), A16 clamp(t << 1, +-32767); sigmoid: A8 (16384 + t + 64) >> 7, A16
    # 16384 + t); uses r5, r6 (r1 is kept in frame slot 40)
    label(TANHQ)
    data(2, _STR_R1_SP_40)
    asr(r1, r0, 31)
    eor(r0, r1)
    sub(r0, r0, r1)  # u = |y|, r1 = sign mask
    mov(r6, r11)
    lsr(r5, r0, 6)
    lsl(r5, r5, 1)
    add(r6, r6, r5)
    ldrh(r5, [r6, 0])
    ldrh(r6, [r6, 2])
    sub(r6, r6, r5)
    lsl(r0, r0, 26)
    lsr(r0, r0, 26)
    mul(r6, r0)
    add(r6, 32)
    asr(r6, r6, 6)
    add(r0, r5, r6)
    eor(r0, r1)
    sub(r0, r0, r1)  # t = T(y), Q14, sign restored
    data(2, _LDR_R1_SP_40)
    mov(r5, r12)
    cmp(r5, 1)
    beq(TQ15)
    bhi(SIG)
    asr(r0, r0, 7)  # tanh int8: clamp(t >> 7, -127, 127)
    mov(r5, 127)
    cmp(r0, r5)
    ble(T8A)
    mov(r0, r5)
    label(T8A)
    neg(r5, r5)
    cmp(r0, r5)
    bge(TRET)
    mov(r0, r5)
    bx(lr)
    label(TQ15)
    lsl(r0, r0, 1)  # tanh q15: clamp(t << 1, -32767, 32767)
    mov(r5, 0x7F)
    lsl(r5, r5, 8)
    add(r5, 0xFF)
    cmp(r0, r5)
    ble(T15A)
    mov(r0, r5)
    label(T15A)
    neg(r5, r5)
    cmp(r0, r5)
    bge(TRET)
    mov(r0, r5)
    bx(lr)
    label(SIG)
    mov(r6, 1)
    lsl(r6, r6, 14)
    add(r0, r0, r6)  # sigmoid: 16384 + t (Q15)
    cmp(r5, 3)
    beq(TRET)
    add(r0, 64)
    asr(r0, r0, 7)  # int8: (v + 64) >> 7
    label(TRET)
    bx(lr)
    label(EXIT)


def call_block(blob, desc_off, act, half, inp, out, acc):
    """The array('i') whose address `forward` takes (layout: the module docstring). blob: the loader's bytearray
    (the file, the descriptor at byte desc_off); act: array('h') of 4 * half bytes (two buffers of `half` int16,
    half even so that the second one is 4-aligned, at least as wide as the features and every hidden layer); acc:
    array('i') as long as the widest layer. The caller keeps every argument referenced while the block is in use."""
    from uctypes import addressof

    from tinypolicy.tables import SIN_Q14, TANH_Q14

    a = addressof(act)
    b = addressof(blob)
    return array("i", (b + desc_off, b, a, a + 2 * half, addressof(inp), addressof(out), addressof(SIN_Q14),
                       addressof(TANH_Q14), addressof(acc)))
