/* Bare-metal entry points of the C reference (mlp_ref.c) for an emulated Cortex-M0+:
 * host/tinypolicy_host/armv6m/cref.py builds this with arm-none-eabi-gcc -O2 -mcpu=cortex-m0plus -mthumb
 * -ffreestanding -nostdlib, writes the blob and the SIN_Q14 / TANH_Q14 tables into RAM, calls tp_setup once,
 * then tp_infer per inference (the call whose cycles are counted: mlp_ref.c's infer(), input stage included). */
#define MLP_REF_FREESTANDING 1
#include "mlp_ref.c"

static policy_t tp_policy;

int tp_setup(unsigned char *blob, size_t size, const int32_t *sin_tab, const int32_t *tanh_tab) {
    for (int k = 0; k < 258; k++) {
        SIN_Q14[k] = sin_tab[k];
        TANH_Q14[k] = tanh_tab[k];
    }
    return parse_blob(&tp_policy, blob, size, "blob");
}

/* in: n_inputs int32, out: n_outputs int32 (argmax: out[0] = the index). */
int tp_infer(const int32_t *in, int32_t *out) {
    infer(&tp_policy, in, out);
    return 0;
}
