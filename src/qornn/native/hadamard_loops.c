/* The step loops of the signed Hadamard operator W' = diag(d)·(I_q ⊗ S_m), in C (float32).
 *
 * qornn compiles this file on first use when a C compiler is present (qornn/native/__init__.py) and
 * runs it from qornn/operators/native_hadamard.py; without a compiler the same loops run in PyTorch
 * (qornn/operators/signed_hadamard.py).  States are rows of n floats, n a multiple of 8, the block
 * size m a power of two >= 8; a chunk holds C steps of B rows, time-major: x[t][b][0..n).
 *
 * The transform T (x ↦ x·(I_q ⊗ S_m), unnormalised, in place) works on 8-float vectors: the three
 * butterfly stages inside a vector are a shuffle and a multiply-add with ±1, the stages between
 * vectors plain adds and subtracts.
 */
#include <stddef.h>
#include <stdint.h>

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* an unaligned load or store */
typedef int32_t v8i __attribute__((vector_size(32)));
#if defined(__clang__)
#define SHUFFLE(v, ...) __builtin_shufflevector(v, v, __VA_ARGS__)
#else
#define SHUFFLE(v, ...) __builtin_shuffle(v, (v8i){__VA_ARGS__})
#endif
/* max(h, 0), keeping a NaN (as torch.relu does) */
#define RELU(h, zero) ((v8)((v8i)(h) & ~((h) <= (zero))))
#define LOAD(p) (*(const v8u *)(p))
#define STORE(p, v) (*(v8u *)(p) = (v))

/* x ← x·(I_q ⊗ S_m) for one row of nv vectors, blocks of mv vectors (n = 8·nv, m = 8·mv). */
static void transform_row(v8 *x, long nv, long mv)
{
    const v8 s1 = {1, -1, 1, -1, 1, -1, 1, -1}, s2 = {1, 1, -1, -1, 1, 1, -1, -1};
    const v8 s4 = {1, 1, 1, 1, -1, -1, -1, -1};
    for (long k = 0; k < nv; k++) { /* strides 1, 2, 4: (a, b) ↦ (a + b, a − b) inside a vector */
        v8 v = x[k];
        v = SHUFFLE(v, 1, 0, 3, 2, 5, 4, 7, 6) + s1 * v;
        v = SHUFFLE(v, 2, 3, 0, 1, 6, 7, 4, 5) + s2 * v;
        v = SHUFFLE(v, 4, 5, 6, 7, 0, 1, 2, 3) + s4 * v;
        x[k] = v;
    }
    for (long h = 1; h < mv; h *= 2) /* strides 8, 16, ..., m/2: between vectors of a block */
        for (long i = 0; i < nv; i += 2 * h)
            for (long j = i; j < i + h; j++) {
                v8 a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

/* x (rows, n) ← x·(I_q ⊗ S_m), in place. */
void qornn_transform_rows(long rows, long n, long m, float *x)
{
    long nv = n / 8, mv = m / 8;
    v8 s[nv];
    for (long r = 0; r < rows; r++) {
        float *row = x + r * n;
        for (long k = 0; k < nv; k++) s[k] = LOAD(row + 8 * k);
        transform_row(s, nv, mv);
        for (long k = 0; k < nv; k++) STORE(row + 8 * k, s[k]);
    }
}

/* The recurrence on q_t = T(h_t):  h_t = z_t + d ⊙ q_{t-1},  q_t = T(h_t),  for t = 0..C-1.
 * q (C + 1, B, n): q[0] holds q_{-1} (the carry), q[t + 1] receives q_t;  z (C, B, n): z_t in (or, when
 * table is given, z_t = row ids[t][b] of table (rows, n)), h_t out, or max(h_t, 0) when relu is nonzero. */
void qornn_hadamard_forward(long B, long n, long m, long C, const float *d, float *q, float *z,
                            const float *table, const int64_t *ids, long relu)
{
    long nv = n / 8, mv = m / 8, slot = B * n;
    v8 dv[nv], s[nv];
    const v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long k = 0; k < nv; k++) dv[k] = LOAD(d + 8 * k);
    for (long t = 0; t < C; t++)
        for (long b = 0; b < B; b++) {
            float *zr = z + t * slot + b * n;
            const float *in = table ? table + ids[t * B + b] * n : zr;
            const float *before = q + t * slot + b * n;
            float *after = q + (t + 1) * slot + b * n;
            for (long k = 0; k < nv; k++) {
                v8 h = LOAD(in + 8 * k) + dv[k] * LOAD(before + 8 * k);
                STORE(zr + 8 * k, relu ? RELU(h, zero) : h);
                s[k] = h;
            }
            transform_row(s, nv, mv);
            for (long k = 0; k < nv; k++) STORE(after + 8 * k, s[k]);
        }
}

/* The adjoint recurrence, t = C-1..0:  g_t = e_t + b_{t+1},  b_t = T(d ⊙ g_t)  (b_t = g_t·W').
 * carry (B, n): b_{C} in, b_0 out;  e (C, B, n): e_t in, g_t out;
 * when qprev (C, B, n) is given: acc (n) += Σ_{t,b} g_t ⊙ qprev_t (the gradient of d, up to the scale);
 * when table_grad (rows, n) is given: row ids[t][b] of it += g_t (the gradient of a gathered input table). */
void qornn_hadamard_adjoint(long B, long n, long m, long C, const float *d, float *carry, float *e,
                            const float *qprev, float *acc, const int64_t *ids, float *table_grad)
{
    long nv = n / 8, mv = m / 8, slot = B * n;
    v8 dv[nv], s[nv], sum[nv];
    for (long k = 0; k < nv; k++) {
        dv[k] = LOAD(d + 8 * k);
        sum[k] = (v8){0, 0, 0, 0, 0, 0, 0, 0};
    }
    for (long t = C - 1; t >= 0; t--)
        for (long b = 0; b < B; b++) {
            float *er = e + t * slot + b * n, *cr = carry + b * n;
            const float *qr = qprev ? qprev + t * slot + b * n : NULL;
            float *tg = table_grad ? table_grad + ids[t * B + b] * n : NULL;
            for (long k = 0; k < nv; k++) {
                v8 g = LOAD(er + 8 * k) + LOAD(cr + 8 * k);
                STORE(er + 8 * k, g);
                if (qr) sum[k] += g * LOAD(qr + 8 * k);
                if (tg) STORE(tg + 8 * k, LOAD(tg + 8 * k) + g);
                s[k] = dv[k] * g;
            }
            transform_row(s, nv, mv);
            for (long k = 0; k < nv; k++) STORE(cr + 8 * k, s[k]);
        }
    if (qprev)
        for (long k = 0; k < nv; k++) STORE(acc + 8 * k, LOAD(acc + 8 * k) + sum[k]);
}
