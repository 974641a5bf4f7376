/* Plain C reference of the TinyPolicy integer policy (models/README.md): the native speed limit on this CPU.
 *
 * The same arithmetic as the device and the host numpy reference, written as the obvious loops (no SIMD
 * intrinsics, no hand unrolling), compiled with the system gcc -O2 by `tinypolicy bench`:
 *   input stage (affine clamp/offset/requant; angle reduction, turn units, Q14 sine table) -> dense layers
 *   (int8 or int16 weights, int16 activations (w8a8, w8a16, q15), int32 accumulators, per-channel (mult, shift)
 *   requantization, identity / relu / hardtanh / clip clamp, tanh / sigmoid table) -> output stage or argmax.
 * f32 blobs (hosted build only): the float reference path in single precision (float weights, float
 *   accumulators, tanhf / cosf / sinf), what a board's MicroPython float path computes.
 *
 * Usage:
 *   mlp_ref check BLOB            stdin: n_inputs ints per line -> stdout: n_outputs ints per line
 *                                 (f32 blob: floats in, floats out, %.9g)
 *   mlp_ref count BLOB N          N untimed calls (instruction counting under valgrind)
 *   mlp_ref bench BLOB N WARMUP BLOCK
 *       prints one line `BENCH latency engine=c dtype=D n=.. cold_ns=.. p50_ns=.. p99_ns=.. max_ns=..
 *       median_ns=.. mean_ns=..` with the same meaning as benchmarks/device_bench.py (per-call samples timed
 *       alone with clock_gettime, block median over BLOCK back-to-back calls, timer overhead subtracted).
 * With MLP_REF_FREESTANDING defined (benchmarks/c_ref/m0_entry.c, bare-metal Cortex-M0+ under the emulator of
 * host/tinypolicy_host/armv6m/cref.py) only the inference core and parse_blob are compiled: no libc.
 * The blob's tables are trusted (the host validates them before calling this); only the basics are checked.
 */
#ifndef MLP_REF_FREESTANDING
#define _POSIX_C_SOURCE 200809L
#endif
#include <stddef.h>
#include <stdint.h>
#ifndef MLP_REF_FREESTANDING
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define REPORT(...) fprintf(stderr, __VA_ARGS__)
#else
#define REPORT(...) ((void)0)
#endif

#define MAX_LAYERS 8
#ifndef MAX_UNITS
#define MAX_UNITS 256
#endif
#define MAX_IO 64

typedef struct {
    int n_in, n_out, act, pshift;
    int32_t lo, hi;
    float flo, fhi; /* f32 clip layers (act 5): the float32 bounds stored in lo, hi */
    const int8_t *w8;
    const int16_t *w16;
    const float *wf, *bf; /* f32 blobs */
    int32_t bias[MAX_UNITS], mult[MAX_UNITS];
    int shift[MAX_UNITS];
} layer_t;

typedef struct {
    int dtype; /* 0 f32, 1 int8, 2 q15 */
    int a16, argmax, n_layers, n_inputs, n_features, n_outputs;
    int kind[MAX_IO];                                          /* 0 affine, 1 angle */
    float in_off[MAX_IO], in_scale[MAX_IO], in_lo[MAX_IO], in_hi[MAX_IO];     /* f32 input stage */
    float o_scale[16], o_off[16], o_lo[16], o_hi[16];                          /* f32 output stage */
    int32_t qoff[2 * MAX_IO], qlo[2 * MAX_IO], qhi[2 * MAX_IO], fmult[2 * MAX_IO];
    int fshift[2 * MAX_IO];
    int32_t omult[16], ooff[16], oqlo[16], oqhi[16];
    int oshift[16];
    int32_t amin, amax;
    layer_t layer[MAX_LAYERS];
    unsigned char *blob;
} policy_t;

static int32_t SIN_Q14[258], TANH_Q14[258];

#ifndef MLP_REF_FREESTANDING
static int32_t round_half_away(double x) { return (int32_t)(x < 0 ? -floor(-x + 0.5) : floor(x + 0.5)); }

static void make_tables(void) {
    for (int k = 0; k < 258; k++) {
        SIN_Q14[k] = round_half_away(16384.0 * sin(k * 3.14159265358979323846 / 512));
        TANH_Q14[k] = round_half_away(16384.0 * tanh(k / 64.0));
    }
}
#endif

static uint32_t rd_u(const unsigned char *p, int n) {
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

static float rd_f(const unsigned char *p) {
    union { uint32_t u; float f; } v;
    v.u = rd_u(p, 4);
    return v.f;
}

/* Blob version 2 (models/README.md) in buf (size bytes) -> P (pointers into buf). */
static int parse_blob(policy_t *P, unsigned char *buf, size_t size, const char *path) {
    (void)path; /* only used in messages */
    if (size < 16 || buf[0] != 'T' || buf[1] != 'P' || buf[2] != 'O' || buf[3] != 'L' || rd_u(buf + 4, 2) != 2) {
        REPORT("%s: not a TinyPolicy version-2 blob\n", path);
        return -1;
    }
    P->blob = buf;
    P->dtype = buf[6];
    P->a16 = buf[7] & 1;
    P->argmax = (buf[7] >> 1) & 1;
    P->n_layers = buf[8];
    P->n_inputs = buf[9];
    P->n_features = buf[10];
    P->n_outputs = buf[11];
#ifdef MLP_REF_FREESTANDING
    if (P->dtype != 1 && P->dtype != 2) { REPORT("%s: dtype %d: only int8 (1) and q15 (2)\n", path, P->dtype); return -1; }
#else
    if (P->dtype > 2) { REPORT("%s: dtype %d: f32 (0), int8 (1) or q15 (2)\n", path, P->dtype); return -1; }
#endif
    if (P->n_layers < 1 || P->n_layers > MAX_LAYERS || P->n_inputs > MAX_IO || P->n_outputs > 16) {
        REPORT("%s: counts\n", path);
        return -1;
    }
    int wide_act = P->dtype == 2 || P->a16;
    P->amin = wide_act ? -32768 : -128;
    P->amax = wide_act ? 32767 : 127;
    size_t off = 16;
    for (int i = 0; i < P->n_inputs; i++, off += 20) {
        P->kind[i] = buf[off];
        P->in_off[i] = rd_f(buf + off + 4);
        P->in_scale[i] = rd_f(buf + off + 8);
        P->in_lo[i] = rd_f(buf + off + 12);
        P->in_hi[i] = rd_f(buf + off + 16);
    }
    for (int i = 0; i < P->n_features; i++, off += 20) {
        P->qoff[i] = (int32_t)rd_u(buf + off, 4);
        P->qlo[i] = (int32_t)rd_u(buf + off + 4, 4);
        P->qhi[i] = (int32_t)rd_u(buf + off + 8, 4);
        P->fmult[i] = (int32_t)rd_u(buf + off + 12, 4);
        P->fshift[i] = buf[off + 16];
    }
    for (int l = 0; l < P->n_layers; l++, off += 16) {
        layer_t *L = &P->layer[l];
        L->n_in = (int)rd_u(buf + off, 2);
        L->n_out = (int)rd_u(buf + off + 2, 2);
        L->act = buf[off + 4];
        L->pshift = buf[off + 5];
        L->lo = (int32_t)rd_u(buf + off + 8, 4);
        L->hi = (int32_t)rd_u(buf + off + 12, 4);
        L->flo = rd_f(buf + off + 8);
        L->fhi = rd_f(buf + off + 12);
        if (L->n_in < 1 || L->n_in > MAX_UNITS || L->n_out < 1 || L->n_out > MAX_UNITS) {
            REPORT("%s: layer %d dims\n", path, l);
            return -1;
        }
    }
    for (int j = 0; j < P->n_outputs; j++, off += 36) {
        P->oshift[j] = buf[off + 1];
        P->o_scale[j] = rd_f(buf + off + 4);
        P->o_off[j] = rd_f(buf + off + 8);
        P->o_lo[j] = rd_f(buf + off + 12);
        P->o_hi[j] = rd_f(buf + off + 16);
        P->omult[j] = (int32_t)rd_u(buf + off + 20, 4);
        P->ooff[j] = (int32_t)rd_u(buf + off + 24, 4);
        P->oqlo[j] = (int32_t)rd_u(buf + off + 28, 4);
        P->oqhi[j] = (int32_t)rd_u(buf + off + 32, 4);
    }
    for (int l = 0; l < P->n_layers; l++) {
        layer_t *L = &P->layer[l];
        size_t nw = (size_t)L->n_in * L->n_out;
        if (P->dtype == 0) {
            L->wf = (const float *)(buf + off);
            off += 4 * nw;
            L->bf = (const float *)(buf + off);
            off += 4 * (size_t)L->n_out;
            if (off > size) { REPORT("%s: truncated\n", path); return -1; }
            continue;
        }
        if (P->dtype == 1) { L->w8 = (const int8_t *)(buf + off); off += pad4(nw); }
        else { L->w16 = (const int16_t *)(buf + off); off += pad4(2 * nw); }
        for (int j = 0; j < L->n_out; j++) L->bias[j] = (int32_t)rd_u(buf + off + 4 * j, 4);
        off += 4 * (size_t)L->n_out;
        for (int j = 0; j < L->n_out; j++) L->mult[j] = (int32_t)rd_u(buf + off + 4 * j, 4);
        off += 4 * (size_t)L->n_out;
        for (int j = 0; j < L->n_out; j++) L->shift[j] = buf[off + j];
        off += pad4((size_t)L->n_out);
        if (off > size) { REPORT("%s: truncated\n", path); return -1; }
    }
    return 0;
}

#ifndef MLP_REF_FREESTANDING
static int load(policy_t *P, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    static unsigned char buf[1 << 20];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return parse_blob(P, buf, size, path);
}
#endif

static inline int32_t R(int s) { return (int32_t)((1u << s) >> 1); }
static inline int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline int32_t interp(const int32_t *L, int32_t u) {
    int32_t i = u >> 6, f = u & 63;
    return L[i] + (((L[i + 1] - L[i]) * f + 32) >> 6);
}

static inline int32_t sin_q14(int32_t a) {
    int32_t q = a >> 14, r = a & 0x3FFF;
    switch (q) {
    case 0: return interp(SIN_Q14, r);
    case 1: return interp(SIN_Q14, 16384 - r);
    case 2: return -interp(SIN_Q14, r);
    default: return -interp(SIN_Q14, 16384 - r);
    }
}

static inline int32_t tanh_q14(int32_t z) {
    int32_t t = interp(TANH_Q14, z < 0 ? -z : z);
    return z < 0 ? -t : t;
}

/* One inference: int32 inputs (Q`frac` each) -> int32 outputs (Q`frac` each; argmax: the index). */
static void infer(const policy_t *P, const int32_t *in, int32_t *out) {
    int16_t bufa[MAX_UNITS], bufb[MAX_UNITS];
    int16_t *x = bufa, *y = bufb;
    int f = 0;
    for (int i = 0; i < P->n_inputs; i++) {
        int32_t v[2];
        int n = 1;
        if (P->kind[i] == 1) {
            int32_t t = in[i];
            while (t > 12868) t -= 25736;
            while (t < -12868) t += 25736;
            int32_t a = ((t * 10430 + 2048) >> 12) & 0xFFFF;
            v[0] = sin_q14((a + 16384) & 0xFFFF);
            v[1] = sin_q14(a);
            n = 2;
        } else {
            v[0] = clamp(in[i], P->qlo[f], P->qhi[f]) - P->qoff[f];
        }
        for (int k = 0; k < n; k++, f++)
            x[f] = (int16_t)clamp((v[k] * P->fmult[f] + R(P->fshift[f])) >> P->fshift[f], P->amin, P->amax);
    }
    int32_t last[MAX_UNITS];
    int wide_act = P->dtype == 2 || P->a16;
    for (int l = 0; l < P->n_layers; l++) {
        const layer_t *L = &P->layer[l];
        const int n_in = L->n_in, p = L->pshift;
        for (int j = 0; j < L->n_out; j++) {
            int32_t acc = L->bias[j];
            if (P->dtype == 1) {
                const int8_t *w = L->w8 + (size_t)j * n_in;
                for (int i = 0; i < n_in; i++) acc += ((int32_t)w[i] * x[i]) >> p;
            } else {
                const int16_t *w = L->w16 + (size_t)j * n_in;
                for (int i = 0; i < n_in; i++) acc += ((int32_t)w[i] * x[i]) >> p;
            }
            const int s = L->shift[j];
            int32_t o = clamp((acc * L->mult[j] + R(s)) >> s, L->lo, L->hi);
            if (l == P->n_layers - 1 && P->argmax) { last[j] = o; continue; }
            if (L->act == 2) {
                int32_t th = tanh_q14(o);
                o = wide_act ? clamp(th * 2, -32767, 32767) : clamp(th >> 7, -127, 127);
            } else if (L->act == 4) {
                int32_t v = tanh_q14(o) + 16384;
                o = wide_act ? v : (v + 64) >> 7;
            }
            last[j] = o;
            y[j] = (int16_t)clamp(o, -32768, 32767);
        }
        int16_t *tmp = x; x = y; y = tmp;
    }
    if (P->argmax) {
        int best = 0;
        for (int j = 1; j < P->layer[P->n_layers - 1].n_out; j++) if (last[j] > last[best]) best = j;
        out[0] = best;
        return;
    }
    for (int j = 0; j < P->n_outputs; j++) {
        int s = P->oshift[j];
        out[j] = clamp(((last[j] * P->omult[j] + R(s)) >> s) + P->ooff[j], P->oqlo[j], P->oqhi[j]);
    }
}

#ifndef MLP_REF_FREESTANDING
static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* One f32 inference: floats in (user units) -> floats out (argmax: the index), single precision throughout. */
static void infer_f(const policy_t *P, const float *in, float *out) {
    float bufa[MAX_UNITS], bufb[MAX_UNITS];
    float *x = bufa, *y = bufb;
    int f = 0;
    for (int i = 0; i < P->n_inputs; i++) {
        if (P->kind[i] == 1) { x[f++] = cosf(in[i]); x[f++] = sinf(in[i]); }
        else x[f++] = (clampf(in[i], P->in_lo[i], P->in_hi[i]) - P->in_off[i]) * P->in_scale[i];
    }
    for (int l = 0; l < P->n_layers; l++) {
        const layer_t *L = &P->layer[l];
        const int n_in = L->n_in;
        for (int j = 0; j < L->n_out; j++) {
            const float *w = L->wf + (size_t)j * n_in;
            float s = L->bf[j];
            for (int i = 0; i < n_in; i++) s += w[i] * x[i];
            switch (L->act) {
            case 1: s = s < 0.0f ? 0.0f : s; break;
            case 2: s = tanhf(s); break;
            case 3: s = clampf(s, -1.0f, 1.0f); break;
            case 4: s = 0.5f + 0.5f * tanhf(0.5f * s); break;
            case 5: s = clampf(s, L->flo, L->fhi); break;
            default: break;
            }
            y[j] = s;
        }
        float *tmp = x; x = y; y = tmp;
    }
    int n_last = P->layer[P->n_layers - 1].n_out;
    if (P->argmax) {
        int best = 0;
        for (int j = 1; j < n_last; j++) if (x[j] > x[best]) best = j;
        out[0] = (float)best;
        return;
    }
    for (int j = 0; j < P->n_outputs; j++) {
        float v = x[j] * P->o_scale[j] + P->o_off[j];
        out[j] = v != v ? clampf(0.0f, P->o_lo[j], P->o_hi[j]) : clampf(v, P->o_lo[j], P->o_hi[j]);
    }
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pct(int64_t *v, size_t n, int p) {
    qsort(v, n, sizeof *v, cmp64);
    size_t want = (n * (size_t)p + 99) / 100;
    if (want < 1) want = 1;
    return v[want - 1];
}

volatile int32_t sink;

/* Bench inputs: angle inputs in about ±3π (Q12; f32: radians), affine inputs over their clamp range (f32: over
 * the declared [lo, hi] when finite, else ±10). */
enum { K = 1024 };
static int32_t IN[K][MAX_IO];
static float INF[K][MAX_IO];

static void make_inputs(const policy_t *P) {
    uint32_t s = 12345;
    for (int k = 0; k < K; k++) {
        int f = 0;
        for (int i = 0; i < P->n_inputs; i++) {
            s = (s * 1103515245u + 12345u) & 0x7FFFFFFF;
            if (P->kind[i] == 1) {
                IN[k][i] = (int32_t)(s % 77208) - 38604;
                INF[k][i] = (float)IN[k][i] / 4096.0f;
                f += 2;
            } else {
                int64_t lo = P->qlo[f], span = (int64_t)P->qhi[f] - lo + 1;
                IN[k][i] = (int32_t)(lo + (int64_t)(s % (uint64_t)(span > 0 ? span : 1)));
                float a = isfinite(P->in_lo[i]) ? P->in_lo[i] : -10.0f, b = isfinite(P->in_hi[i]) ? P->in_hi[i] : 10.0f;
                INF[k][i] = a + (b - a) * (float)(s % 65536) / 65536.0f;
                f += 1;
            }
        }
    }
}

static int32_t out[16];
static float outf[16];

/* Call i of a run: inputs cycle through the K prepared rows. */
static inline void step(const policy_t *P, size_t i) {
    if (P->dtype == 0) { infer_f(P, INF[i & (K - 1)], outf); sink = (int32_t)outf[0]; }
    else { infer(P, IN[i & (K - 1)], out); sink = out[0]; }
}

static const char *dtype_name(const policy_t *P) { return P->dtype == 0 ? "f32" : P->dtype == 1 ? "int8" : "q15"; }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s check BLOB < rows | %s count BLOB N | %s bench BLOB N WARMUP BLOCK\n", argv[0],
                argv[0], argv[0]);
        return 2;
    }
    make_tables();
    static policy_t P;
    if (load(&P, argv[2]) != 0) return 1;
    if (strcmp(argv[1], "check") == 0) { /* one row of n_inputs numbers per line -> n_outputs per line */
        int32_t in[MAX_IO];
        float inf[MAX_IO];
        for (;;) {
            for (int i = 0; i < P.n_inputs; i++) {
                double v;
                if (scanf("%lf", &v) != 1) return 0;
                in[i] = (int32_t)v;
                inf[i] = (float)v;
            }
            int n = P.argmax ? 1 : P.n_outputs;
            if (P.dtype == 0) {
                infer_f(&P, inf, outf);
                for (int j = 0; j < n; j++) printf(j ? " %.9g" : "%.9g", (double)outf[j]);
            } else {
                infer(&P, in, out);
                for (int j = 0; j < n; j++) printf(j ? " %d" : "%d", out[j]);
            }
            printf("\n");
        }
    }
    make_inputs(&P);
    if (strcmp(argv[1], "count") == 0 && argc >= 4) { /* n untimed calls: instruction counting */
        size_t n = strtoul(argv[3], NULL, 10);
        for (size_t i = 0; i < n; i++) step(&P, i);
        return 0;
    }
    if (strcmp(argv[1], "bench") != 0 || argc < 6) { fprintf(stderr, "bad arguments\n"); return 2; }
    size_t n = strtoul(argv[3], NULL, 10), warm = strtoul(argv[4], NULL, 10), block = strtoul(argv[5], NULL, 10);
    if (n < 1 || block < 1) { fprintf(stderr, "N and BLOCK must be >= 1\n"); return 2; }
    int64_t t0 = now_ns();
    step(&P, 0);
    int64_t cold = now_ns() - t0;
    for (size_t i = 0; i < warm; i++) step(&P, i);
    int64_t *single = malloc(n * sizeof *single), *empty = malloc(n * sizeof *empty);
    for (size_t i = 0; i < n; i++) { t0 = now_ns(); empty[i] = now_ns() - t0; }
    for (size_t i = 0; i < n; i++) {
        t0 = now_ns();
        step(&P, i);
        single[i] = now_ns() - t0;
    }
    int64_t over = pct(empty, n, 50);
    int64_t mx = pct(single, n, 100), p99 = pct(single, n, 99), p50 = pct(single, n, 50);
    size_t nb = n / block ? n / block : 1;
    int64_t *blocks = malloc(nb * sizeof *blocks);
    int64_t total = 0;
    for (size_t b = 0; b < nb; b++) {
        t0 = now_ns();
        for (size_t i = 0; i < block; i++) step(&P, b * block + i);
        blocks[b] = now_ns() - t0;
        total += blocks[b];
    }
    int64_t med = pct(blocks, nb, 50);
    /* block times: the timer overhead is one now_ns() pair per block (subtracted); ns per call in tenths */
    double med_ns = (double)(med - over) / (double)block, mean_ns = (double)(total - over * (int64_t)nb) / (double)(nb * block);
    printf("BENCH latency engine=c dtype=%s n=%zu warmup=%zu block=%zu cold_ns=%lld p50_ns=%lld p99_ns=%lld "
           "max_ns=%lld median_ns=%.1f mean_ns=%.1f overhead_ns=%lld\n",
           dtype_name(&P), n, warm, block, (long long)cold,
           (long long)(p50 > over ? p50 - over : 0), (long long)(p99 > over ? p99 - over : 0), (long long)mx, med_ns,
           mean_ns, (long long)over);
    free(single);
    free(empty);
    free(blocks);
    return 0;
}
#endif /* MLP_REF_FREESTANDING */
