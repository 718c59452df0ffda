/* lutcli's CPU kernels: 3D LUT interpolation, trilinear and tetrahedral.
 *
 * - apply_packed: (H, W, 3) interleaved pixels, uint8, uint16 or float32, to the same layout and
 *   type; what `lutcli apply` runs on decoded photos.
 * - forward_planar / backward_planar: (N, 3, P) float32 pictures as torch holds them, with one
 *   LUT for the batch or one per picture; the forward and backward passes of training.
 *
 * The LUT arrives as torch holds it, (3, D, D, D) float32 planes indexed [c][b][g][r]. A LUT
 * that serves many pixels (a photo, a batch) is first repacked as one 4-float node per lattice
 * point (R, G, B, 0), so that a corner is a single 16-byte load; one LUT per picture is read
 * from the planes in place. Every interpolation step works on the three channels at once (GCC
 * and clang vector extensions; SSE on x86, NEON on ARM). Python validates shapes and types before
 * calling; pointers arrive as integers (torch's data_ptr(), numpy's ctypes.data). The GIL is
 * released while the kernels run, and OpenMP spreads the pixels over `threads` cores.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef float v4f __attribute__((vector_size(16)));

enum { KIND_UINT8 = 0, KIND_UINT16 = 1, KIND_FLOAT32 = 2 };

/* Pixels handed to one thread at a time: large enough to amortise scheduling, small enough to
 * balance the cores on a photo. */
#define BLOCK 16384

#define INLINE static inline __attribute__((always_inline))

INLINE v4f splat(float x) { return (v4f){x, x, x, x}; }

/* One color's lattice cell: lower corner per axis and position inside the cell in [0, 1].
 * Matches the reference: the color is clamped to [0, 1], the corner to D - 2. */
typedef struct {
    int corner[3];
    float frac[3];
    int inside[3]; /* 1 where the color was in [0, 1]: the clamp passes its gradient there */
} Cell;

INLINE void locate(float x, int size, int *corner, float *frac, int *inside) {
    int in = x >= 0.0f && x <= 1.0f;
    float position = (in ? x : (x > 1.0f ? 1.0f : 0.0f)) * (float)(size - 1);
    int i = (int)position;
    if (i > size - 2) i = size - 2;
    *corner = i;
    *frac = position - (float)i;
    *inside = in;
}

/* A LUT as the kernels read it: packed nodes (one 16-byte load a corner), or, where repacking
 * would cost as much as the interpolation (one small LUT per picture in training), the three
 * planes as torch holds them. */
typedef struct {
    const v4f *packed;
    const float *planes;
    Py_ssize_t nodes;
} Lut;

INLINE v4f node(Lut lut, Py_ssize_t index) {
    if (lut.packed != NULL) return lut.packed[index];
    const float *p = lut.planes + index;
    return (v4f){p[0], p[lut.nodes], p[2 * lut.nodes], 0.0f};
}

/* A LUT gradient: packed nodes or planes, as for Lut. */
typedef struct {
    v4f *packed;
    float *planes;
    Py_ssize_t nodes;
} GradLut;

INLINE void accumulate(GradLut grad, Py_ssize_t index, v4f value) {
    if (grad.packed != NULL) {
        grad.packed[index] += value;
    } else {
        float *p = grad.planes + index;
        p[0] += value[0];
        p[grad.nodes] += value[1];
        p[2 * grad.nodes] += value[2];
    }
}

/* Interpolation of one cell. `strides` are the node offsets of one step along r, g, b.
 * Trilinear: 8 corners. Tetrahedral: the fractions sorted f1 >= f2 >= f3 along axes a1, a2, a3
 * give the path v0 -> v1 = v0 + e_a1 -> v2 = v1 + e_a2 -> v3 = v0 + (1, 1, 1), and the color
 * (1 - f1) v0 + (f1 - f2) v1 + (f2 - f3) v2 + f3 v3. */
INLINE void order_axes(const float *f, int *a) {
    /* Without branches: on a photo the order changes from pixel to pixel, and mispredicted
     * swaps cost more than the interpolation. Ties keep r before g before b. */
    int r_first = (f[0] >= f[1]) & (f[0] >= f[2]);
    int first = (1 - r_first) * (1 + (f[1] < f[2]));
    int b_last = (f[2] <= f[1]) & (f[2] <= f[0]);
    int last = 2 * b_last + (1 - b_last) * (f[1] <= f[0]);
    a[0] = first; a[1] = 3 - first - last; a[2] = last;
}

/* The tetrahedral path of a cell: the axes in order `a`, the nodes v0..v3 in `v`. */
INLINE void tetrahedral_path(Py_ssize_t base, const Py_ssize_t *strides, const float *f, int *a,
                             Py_ssize_t *v) {
    order_axes(f, a);
    v[0] = base;
    v[1] = base + strides[a[0]];
    v[2] = v[1] + strides[a[1]];
    v[3] = base + strides[0] + strides[1] + strides[2];
}

INLINE v4f interpolate(Lut table, Py_ssize_t base, const Py_ssize_t *strides,
                       const float *f, int tetrahedral) {
    if (tetrahedral) {
        int a[3];
        Py_ssize_t i[4];
        tetrahedral_path(base, strides, f, a, i);
        v4f v0 = node(table, i[0]), v1 = node(table, i[1]), v2 = node(table, i[2]);
        v4f v3 = node(table, i[3]);
        return v0 + (v1 - v0) * f[a[0]] + (v2 - v1) * f[a[1]] + (v3 - v2) * f[a[2]];
    }
    Py_ssize_t sr = strides[0], sg = strides[1], sb = strides[2];
    v4f c000 = node(table, base), c100 = node(table, base + sr);
    v4f c010 = node(table, base + sg), c110 = node(table, base + sg + sr);
    v4f c001 = node(table, base + sb), c101 = node(table, base + sb + sr);
    v4f c011 = node(table, base + sb + sg), c111 = node(table, base + sb + sg + sr);
    v4f fr = splat(f[0]), fg = splat(f[1]), fb = splat(f[2]);
    v4f c00 = c000 + (c100 - c000) * fr, c10 = c010 + (c110 - c010) * fr;
    v4f c01 = c001 + (c101 - c001) * fr, c11 = c011 + (c111 - c011) * fr;
    v4f c0 = c00 + (c10 - c00) * fg, c1 = c01 + (c11 - c01) * fg;
    return c0 + (c1 - c0) * fb;
}

/* (3, D, D, D) planes -> D³ nodes (R, G, B, 0) times `scale`, 16-byte aligned. */
static v4f *pack_lut(const float *planes, int size, float scale) {
    Py_ssize_t nodes = (Py_ssize_t)size * size * size;
    v4f *table = aligned_alloc(16, (size_t)nodes * sizeof(v4f));
    if (table == NULL) return NULL;
    for (Py_ssize_t i = 0; i < nodes; i++)
        table[i] = (v4f){planes[i] * scale, planes[nodes + i] * scale, planes[2 * nodes + i] * scale, 0.0f};
    return table;
}

INLINE float clampf(float x, float low, float high) {
    return x < low ? low : (x > high ? high : x);
}

static inline int team(int threads) { return threads < 1 ? 1 : threads; }

/* apply_packed ------------------------------------------------------------------------------ */

/* On x86-64 Linux with GCC, hot loops are also compiled for Haswell and later (AVX2 and FMA),
 * chosen at load time; other machines run the portable build. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("arch=haswell", "default")))
#else
#define HOT
#endif

/* Lattice cell of each 8-bit value, as node offsets along one axis and fractions. */
typedef struct {
    int offset[3][256];
    float frac[256];
} Cells8;

INLINE uint8_t to_uint8(float x) { return (uint8_t)(clampf(x, 0.0f, 255.0f) + 0.5f); }

/* A color in 0..255 (unclamped) rounded to 3 bytes at `d`. Where `spare` (the next pixel's
 * bytes follow, are written later by the same thread, and were not its input: not in place),
 * one 4-byte store does it. */
INLINE void store_uint8(uint8_t *d, v4f color, int spare) {
#ifdef __SSE2__
    __m128 v = _mm_min_ps(_mm_max_ps((__m128)color, _mm_setzero_ps()), _mm_set1_ps(255.0f));
    __m128i i = _mm_cvttps_epi32(_mm_add_ps(v, _mm_set1_ps(0.5f)));
    i = _mm_packus_epi16(_mm_packs_epi32(i, i), i);
    uint32_t word = (uint32_t)_mm_cvtsi128_si32(i);
    if (spare) {
        memcpy(d, &word, 4);
        return;
    }
    d[0] = (uint8_t)word, d[1] = (uint8_t)(word >> 8), d[2] = (uint8_t)(word >> 16);
#else
    (void)spare;
    d[0] = to_uint8(color[0]), d[1] = to_uint8(color[1]), d[2] = to_uint8(color[2]);
#endif
}
INLINE uint16_t to_uint16(float x) { return (uint16_t)(clampf(x, 0.0f, 65535.0f) + 0.5f); }

/* A color in 0..65535 (unclamped) rounded to 3 uint16 at `d`. */
INLINE void store_uint16(uint16_t *d, v4f color) {
#ifdef __SSE2__
    __m128 v = _mm_min_ps(_mm_max_ps((__m128)color, _mm_setzero_ps()), _mm_set1_ps(65535.0f));
    __m128i i = _mm_cvttps_epi32(_mm_add_ps(v, _mm_set1_ps(0.5f)));
    /* SSE2 packs to signed 16 bits only: shift into that range, pack, and shift back. */
    i = _mm_packs_epi32(_mm_sub_epi32(i, _mm_set1_epi32(32768)), _mm_setzero_si128());
    i = _mm_xor_si128(i, _mm_set1_epi16((short)0x8000));
    uint16_t lanes[8];
    _mm_storeu_si128((__m128i *)lanes, i);
    d[0] = lanes[0], d[1] = lanes[1], d[2] = lanes[2];
#else
    d[0] = to_uint16(color[0]), d[1] = to_uint16(color[1]), d[2] = to_uint16(color[2]);
#endif
}

HOT static void apply_range(const void *source, void *destination, Py_ssize_t begin,
                            Py_ssize_t end, int kind, Lut table, int size, int tetrahedral,
                            const Cells8 *cells) {
    const Py_ssize_t strides[3] = {1, size, (Py_ssize_t)size * size};
    const int in_place = source == destination;
    const float to_lattice16 = (float)(size - 1) / 65535.0f;
    for (Py_ssize_t p = begin; p < end; p++) {
        Py_ssize_t base;
        float f[3];
        if (kind == KIND_UINT8) {
            const uint8_t *s = (const uint8_t *)source + 3 * p;
            base = cells->offset[0][s[0]] + cells->offset[1][s[1]] + cells->offset[2][s[2]];
            for (int k = 0; k < 3; k++) f[k] = cells->frac[s[k]];
        } else if (kind == KIND_UINT16) {
            /* Always inside the cube: no clamp, and one multiplication instead of a division. */
            const uint16_t *s = (const uint16_t *)source + 3 * p;
            int c[3];
            for (int k = 0; k < 3; k++) {
                float position = (float)s[k] * to_lattice16;
                c[k] = (int)position < size - 2 ? (int)position : size - 2;
                f[k] = position - (float)c[k];
            }
            base = c[0] + strides[1] * c[1] + strides[2] * c[2];
        } else {
            int c[3], inside;
            for (int k = 0; k < 3; k++)
                locate(((const float *)source)[3 * p + k], size, &c[k], &f[k], &inside);
            base = c[0] + strides[1] * c[1] + strides[2] * c[2];
        }
        v4f out = interpolate(table, base, strides, f, tetrahedral);
        if (kind == KIND_UINT8) {
            store_uint8((uint8_t *)destination + 3 * p, out, p + 1 < end && !in_place);
        } else if (kind == KIND_UINT16) {
            store_uint16((uint16_t *)destination + 3 * p, out);
        } else {
            float *d = (float *)destination + 3 * p;
            d[0] = out[0], d[1] = out[1], d[2] = out[2];
        }
    }
}

static void apply_packed_pixels(const void *source, void *destination, Py_ssize_t count, int kind,
                                Lut table, int size, int tetrahedral, int threads) {
    Cells8 cells;
    for (int v = 0; v < 256; v++) {
        int corner, inside;
        locate((float)v / 255.0f, size, &corner, &cells.frac[v], &inside);
        cells.offset[0][v] = corner;
        cells.offset[1][v] = corner * size;
        cells.offset[2][v] = corner * size * size;
    }
    Py_ssize_t blocks = (count + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) num_threads(team(threads))
    for (Py_ssize_t block = 0; block < blocks; block++) {
        Py_ssize_t end = (block + 1) * BLOCK < count ? (block + 1) * BLOCK : count;
        apply_range(source, destination, block * BLOCK, end, kind, table, size, tetrahedral, &cells);
    }
}

static PyObject *apply_packed(PyObject *self, PyObject *args) {
    unsigned long long source, destination, lut;
    Py_ssize_t count;
    int kind, size, tetrahedral, threads;
    if (!PyArg_ParseTuple(args, "KKniKiii", &source, &destination, &count, &kind, &lut, &size,
                          &tetrahedral, &threads))
        return NULL;
    /* Scaled to the output's range, so integer outputs only round. */
    float scale = kind == KIND_UINT8 ? 255.0f : (kind == KIND_UINT16 ? 65535.0f : 1.0f);
    v4f *table = pack_lut((const float *)(uintptr_t)lut, size, scale);
    if (table == NULL) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    Lut packed = {table, NULL, (Py_ssize_t)size * size * size};
    apply_packed_pixels((const void *)(uintptr_t)source, (void *)(uintptr_t)destination, count,
                        kind, packed, size, tetrahedral, threads);
    Py_END_ALLOW_THREADS
    free(table);
    Py_RETURN_NONE;
}

/* forward_planar / backward_planar ----------------------------------------------------------- */

INLINE void locate_planar(const float *picture, Py_ssize_t pixels, Py_ssize_t p, int size,
                          Py_ssize_t *base, float *f, int *inside) {
    int c[3];
    for (int k = 0; k < 3; k++) locate(picture[k * pixels + p], size, &c[k], &f[k], &inside[k]);
    *base = c[0] + (Py_ssize_t)size * c[1] + (Py_ssize_t)size * size * c[2];
}

/* Pixels [begin, end) of one (3, P) picture through `table`. */
HOT static void forward_range(const float *picture, float *result, Py_ssize_t pixels,
                              Py_ssize_t begin, Py_ssize_t end, Lut table, int size,
                              int tetrahedral) {
    const Py_ssize_t strides[3] = {1, size, (Py_ssize_t)size * size};
    for (Py_ssize_t p = begin; p < end; p++) {
        Py_ssize_t base;
        float f[3];
        int inside[3];
        locate_planar(picture, pixels, p, size, &base, f, inside);
        v4f color = interpolate(table, base, strides, f, tetrahedral);
        result[p] = color[0];
        result[pixels + p] = color[1];
        result[2 * pixels + p] = color[2];
    }
}

/* The LUTs of a batch as the kernels read them: one shared LUT is packed (its cost is spread
 * over the whole batch); one LUT per picture is read in place. */
typedef struct {
    v4f *shared;
    const float *planes;
    Py_ssize_t count, nodes;
} Luts;

static int open_luts(Luts *luts, const float *planes, Py_ssize_t count, int size) {
    luts->nodes = (Py_ssize_t)size * size * size;
    luts->planes = planes;
    luts->count = count;
    luts->shared = count == 1 ? pack_lut(planes, size, 1.0f) : NULL;
    return count != 1 || luts->shared != NULL;
}

INLINE Lut lut_of(const Luts *luts, Py_ssize_t n) {
    if (luts->shared != NULL) return (Lut){luts->shared, NULL, luts->nodes};
    return (Lut){NULL, luts->planes + n * 3 * luts->nodes, luts->nodes};
}

static PyObject *forward_planar(PyObject *self, PyObject *args) {
    unsigned long long image, output, planes;
    Py_ssize_t batch, pixels, lut_count;
    int size, tetrahedral, threads;
    if (!PyArg_ParseTuple(args, "KKnnKniii", &image, &output, &batch, &pixels, &planes,
                          &lut_count, &size, &tetrahedral, &threads))
        return NULL;
    Luts luts;
    if (!open_luts(&luts, (const float *)(uintptr_t)planes, lut_count, size))
        return PyErr_NoMemory();
    const float *in = (const float *)(uintptr_t)image;
    float *out = (float *)(uintptr_t)output;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t blocks = (pixels + BLOCK - 1) / BLOCK;
#pragma omp parallel for collapse(2) schedule(static) num_threads(team(threads))
    for (Py_ssize_t n = 0; n < batch; n++) {
        for (Py_ssize_t block = 0; block < blocks; block++) {
            Py_ssize_t end = (block + 1) * BLOCK < pixels ? (block + 1) * BLOCK : pixels;
            forward_range(in + n * 3 * pixels, out + n * 3 * pixels, pixels, block * BLOCK, end,
                          lut_of(&luts, n), size, tetrahedral);
        }
    }
    Py_END_ALLOW_THREADS
    free(luts.shared);
    Py_RETURN_NONE;
}

/* One pixel's backward pass: adds weight × gradient to the corners' nodes in `grad_table` (when
 * not NULL) and writes the gradient of the pixel's color to `grad_color` (when not NULL). */
INLINE void backward_pixel(Lut table, GradLut *grad_table, Py_ssize_t base,
                                  const Py_ssize_t *strides, const float *f, const int *inside,
                                  v4f g, int size, int tetrahedral, float *grad_color) {
    float d[3]; /* d output / d fraction, dotted with the output's gradient */
    if (tetrahedral) {
        int a[3];
        Py_ssize_t i[4];
        tetrahedral_path(base, strides, f, a, i);
        if (grad_table != NULL) {
            accumulate(*grad_table, i[0], g * (1.0f - f[a[0]]));
            accumulate(*grad_table, i[1], g * (f[a[0]] - f[a[1]]));
            accumulate(*grad_table, i[2], g * (f[a[1]] - f[a[2]]));
            accumulate(*grad_table, i[3], g * f[a[2]]);
        }
        if (grad_color == NULL) return;
        v4f v0 = node(table, i[0]), v1 = node(table, i[1]), v2 = node(table, i[2]);
        v4f v3 = node(table, i[3]);
        v4f e1 = (v1 - v0) * g, e2 = (v2 - v1) * g, e3 = (v3 - v2) * g;
        d[a[0]] = e1[0] + e1[1] + e1[2];
        d[a[1]] = e2[0] + e2[1] + e2[2];
        d[a[2]] = e3[0] + e3[1] + e3[2];
    } else {
        Py_ssize_t sr = strides[0], sg = strides[1], sb = strides[2];
        float r = f[0], gg = f[1], b = f[2];
        float r1 = 1 - r, g1 = 1 - gg, b1 = 1 - b;
        if (grad_table != NULL) {
            float w00 = g1 * b1, w10 = gg * b1, w01 = g1 * b, w11 = gg * b; /* (g, b) weights */
            v4f low = g * r1, high = g * r;
            accumulate(*grad_table, base, low * w00);
            accumulate(*grad_table, base + sr, high * w00);
            accumulate(*grad_table, base + sg, low * w10);
            accumulate(*grad_table, base + sg + sr, high * w10);
            accumulate(*grad_table, base + sb, low * w01);
            accumulate(*grad_table, base + sb + sr, high * w01);
            accumulate(*grad_table, base + sb + sg, low * w11);
            accumulate(*grad_table, base + sb + sg + sr, high * w11);
        }
        if (grad_color == NULL) return;
        v4f c000 = node(table, base), c100 = node(table, base + sr);
        v4f c010 = node(table, base + sg), c110 = node(table, base + sg + sr);
        v4f c001 = node(table, base + sb), c101 = node(table, base + sb + sr);
        v4f c011 = node(table, base + sb + sg), c111 = node(table, base + sb + sg + sr);
        /* The derivatives along the forward pass's tree of lerps. */
        v4f d00 = c100 - c000, d10 = c110 - c010, d01 = c101 - c001, d11 = c111 - c011;
        v4f c00 = c000 + d00 * r, c10 = c010 + d10 * r, c01 = c001 + d01 * r, c11 = c011 + d11 * r;
        v4f e0 = c10 - c00, e1 = c11 - c01;
        v4f db = (c01 + e1 * gg) - (c00 + e0 * gg);
        v4f dg = e0 + (e1 - e0) * b;
        v4f q0 = d00 + (d10 - d00) * gg, q1 = d01 + (d11 - d01) * gg;
        v4f dr = q0 + (q1 - q0) * b;
        dr *= g; dg *= g; db *= g;
        d[0] = dr[0] + dr[1] + dr[2];
        d[1] = dg[0] + dg[1] + dg[2];
        d[2] = db[0] + db[1] + db[2];
    }
    for (int k = 0; k < 3; k++) grad_color[k] = inside[k] ? d[k] * (float)(size - 1) : 0.0f;
}

/* Packed gradient nodes -> (3, D, D, D) planes, added. */
static void unpack_add(const v4f *grad_table, float *planes, int size) {
    Py_ssize_t nodes = (Py_ssize_t)size * size * size;
    for (Py_ssize_t i = 0; i < nodes; i++)
        for (int c = 0; c < 3; c++) planes[c * nodes + i] += grad_table[i][c];
}

/* Pixels [begin, end) of one picture, backward: LUT gradient into `grad_table` (when not
 * NULL), the picture's gradient into `grad_picture` (when not NULL). */
HOT static void backward_range(const float *picture, const float *grad_output,
                               float *grad_picture, GradLut *grad_table, Py_ssize_t pixels,
                               Py_ssize_t begin, Py_ssize_t end, Lut table, int size,
                               int tetrahedral) {
    const Py_ssize_t strides[3] = {1, size, (Py_ssize_t)size * size};
    for (Py_ssize_t p = begin; p < end; p++) {
        Py_ssize_t base;
        float f[3], color[3];
        int inside[3];
        locate_planar(picture, pixels, p, size, &base, f, inside);
        const float *g = grad_output;
        v4f gv = {g[p], g[pixels + p], g[2 * pixels + p], 0.0f};
        backward_pixel(table, grad_table, base, strides, f, inside, gv, size, tetrahedral,
                       grad_picture == NULL ? NULL : color);
        if (grad_picture != NULL)
            for (int k = 0; k < 3; k++) grad_picture[k * pixels + p] = color[k];
    }
}

static PyObject *backward_planar(PyObject *self, PyObject *args) {
    unsigned long long image, grad_output, grad_image, grad_luts, planes;
    Py_ssize_t batch, pixels, lut_count;
    int size, tetrahedral, threads;
    if (!PyArg_ParseTuple(args, "KKKKnnKniii", &image, &grad_output, &grad_image, &grad_luts,
                          &batch, &pixels, &planes, &lut_count, &size, &tetrahedral, &threads))
        return NULL;
    Luts luts;
    if (!open_luts(&luts, (const float *)(uintptr_t)planes, lut_count, size))
        return PyErr_NoMemory();
    const Py_ssize_t nodes = luts.nodes;
    int workers = team(threads);
    /* One LUT shared by the batch: each thread sums its pixels' gradient into a private packed
     * table, added up at the end. One LUT per picture: each picture is one thread's work and
     * adds straight into its own LUT's gradient. */
    int shared = lut_count == 1;
    v4f *grads = NULL;
    if (shared && grad_luts != 0) {
        grads = aligned_alloc(16, (size_t)(workers * nodes) * sizeof(v4f));
        if (grads == NULL) {
            free(luts.shared);
            return PyErr_NoMemory();
        }
        memset(grads, 0, (size_t)(workers * nodes) * sizeof(v4f));
    }
    const float *in = (const float *)(uintptr_t)image;
    const float *gout = (const float *)(uintptr_t)grad_output;
    float *gin = (float *)(uintptr_t)grad_image;
    float *gluts = (float *)(uintptr_t)grad_luts;
    Py_BEGIN_ALLOW_THREADS
    if (shared) {
        Py_ssize_t blocks = (pixels + BLOCK - 1) / BLOCK;
#pragma omp parallel for collapse(2) schedule(static) num_threads(workers)
        for (Py_ssize_t n = 0; n < batch; n++) {
            for (Py_ssize_t block = 0; block < blocks; block++) {
                int worker = 0;
#ifdef _OPENMP
                worker = omp_get_thread_num();
#endif
                GradLut grad = {grads == NULL ? NULL : grads + worker * nodes, NULL, nodes};
                Py_ssize_t end = (block + 1) * BLOCK < pixels ? (block + 1) * BLOCK : pixels;
                backward_range(in + n * 3 * pixels, gout + n * 3 * pixels,
                               gin == NULL ? NULL : gin + n * 3 * pixels,
                               grads == NULL ? NULL : &grad, pixels, block * BLOCK, end,
                               lut_of(&luts, n), size, tetrahedral);
            }
        }
        if (grads != NULL)
            for (int w = 0; w < workers; w++) unpack_add(grads + w * nodes, gluts, size);
    } else {
#pragma omp parallel for schedule(dynamic) num_threads(workers)
        for (Py_ssize_t n = 0; n < batch; n++) {
            GradLut grad = {NULL, gluts == NULL ? NULL : gluts + n * 3 * nodes, nodes};
            backward_range(in + n * 3 * pixels, gout + n * 3 * pixels,
                           gin == NULL ? NULL : gin + n * 3 * pixels,
                           gluts == NULL ? NULL : &grad, pixels, 0, pixels, lut_of(&luts, n),
                           size, tetrahedral);
        }
    }
    Py_END_ALLOW_THREADS
    free(grads);
    free(luts.shared);
    Py_RETURN_NONE;
}

static PyObject *openmp_threads(PyObject *self, PyObject *args) {
#ifdef _OPENMP
    return PyLong_FromLong(omp_get_max_threads());
#else
    return PyLong_FromLong(1);
#endif
}

static PyMethodDef methods[] = {
    {"apply_packed", apply_packed, METH_VARARGS,
     "apply_packed(source, destination, count, kind, lut, size, tetrahedral, threads)"},
    {"forward_planar", forward_planar, METH_VARARGS,
     "forward_planar(image, output, batch, pixels, luts, lut_count, size, tetrahedral, threads)"},
    {"backward_planar", backward_planar, METH_VARARGS,
     "backward_planar(image, grad_output, grad_image, grad_luts, batch, pixels, luts, lut_count, "
     "size, tetrahedral, threads); 0 for a gradient that is not wanted"},
    {"openmp_threads", openmp_threads, METH_NOARGS, "Threads OpenMP would use (1 without OpenMP)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lutcli.kernels._native",
                                    "lutcli's CPU kernels (see native.c).", -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
