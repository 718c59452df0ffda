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
 * and clang vector extensions; SSE on x86, NEON on ARM); apply_packed also locates many pixels
 * at once (see apply_range), and the hot loops are built for several SIMD levels (see "SIMD
 * levels"). Python validates shapes and types before calling; pointers arrive as integers
 * (torch's data_ptr(), numpy's ctypes.data). The GIL is released while the kernels run, and
 * OpenMP spreads the pixels over `threads` cores.
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
    for (Py_ssize_t i = 0; i < nodes; i++) {
        const float r = planes[i], g = planes[nodes + i], b = planes[2 * nodes + i];
        table[i] = (v4f){r * scale, g * scale, b * scale, 0.0f};
    }
    return table;
}

static inline int team(int threads) { return threads < 1 ? 1 : threads; }

/* apply_packed ------------------------------------------------------------------------------ */

/* apply_range takes CHUNK pixels at a time in two steps: locate_chunk finds every pixel's cell
 * and corner weights in plain loops that the compiler vectorises (8 or 16 pixels an
 * instruction), then interpolate_cell sums each pixel's corner nodes (one 16-byte load a node)
 * and the color is rounded and stored. A chunk's cells and colors stay in L1. */
#define CHUNK 128

/* The cells of a chunk's pixels. Offsets are in bytes into the packed table (int32: at most
 * MAX_TABLE_BYTES). Tetrahedral: the path v0 = base, v1, v2, v3 = base + the cube's diagonal,
 * and w[0..2] the fractions sorted f1 >= f2 >= f3 (see order_axes), the color being
 * v0 + f1 (v1 - v0) + f2 (v2 - v1) + f3 (v3 - v2): one weight fewer to load than the form
 * (1 - f1) v0 + (f1 - f2) v1 + (f2 - f3) v2 + f3 v3. Trilinear: w[0..2] hold the fractions
 * along r, g, b. */
typedef struct {
    int32_t base[CHUNK], v1[CHUNK], v2[CHUNK];
    float w[3][CHUNK];
} Chunk;

#define MAX_TABLE_BYTES INT32_MAX

INLINE v4f node_at(const v4f *table, int32_t offset) {
    return *(const v4f *)((const char *)table + offset);
}

/* Pixels [first, first + n) of `source`: their cells. Integer pixels are inside the cube by
 * construction; float ones are clamped to it (NaN to 0), as the reference does. */
INLINE void locate_chunk(const void *source, Py_ssize_t first, int n, int kind, int size,
                         int tetrahedral, Chunk *c) {
    const float top = (float)(size - 1);
    const float scale =
        kind == KIND_UINT8 ? top / 255.0f : (kind == KIND_UINT16 ? top / 65535.0f : top);
    const int32_t sr = sizeof(v4f), sg = sr * size, sb = sg * size, last_corner = size - 2;
    float fr[CHUNK], fg[CHUNK], fb[CHUNK];
    if (kind == KIND_UINT8) {
        const uint8_t *s = (const uint8_t *)source + 3 * first;
        for (int i = 0; i < n; i++)
            fr[i] = s[3 * i] * scale, fg[i] = s[3 * i + 1] * scale, fb[i] = s[3 * i + 2] * scale;
    } else if (kind == KIND_UINT16) {
        const uint16_t *s = (const uint16_t *)source + 3 * first;
        for (int i = 0; i < n; i++)
            fr[i] = s[3 * i] * scale, fg[i] = s[3 * i + 1] * scale, fb[i] = s[3 * i + 2] * scale;
    } else {
        const float *s = (const float *)source + 3 * first;
        for (int i = 0; i < n; i++)
            fr[i] = s[3 * i] * scale, fg[i] = s[3 * i + 1] * scale, fb[i] = s[3 * i + 2] * scale;
        /* Clamped to the cube, NaN to 0, as the reference does. */
        for (int i = 0; i < n; i++) {
            fr[i] = fr[i] > 0.0f ? fr[i] : 0.0f, fg[i] = fg[i] > 0.0f ? fg[i] : 0.0f;
            fb[i] = fb[i] > 0.0f ? fb[i] : 0.0f;
            fr[i] = fr[i] < top ? fr[i] : top, fg[i] = fg[i] < top ? fg[i] : top;
            fb[i] = fb[i] < top ? fb[i] : top;
        }
    }
    for (int i = 0; i < n; i++) {
        int32_t r = (int32_t)fr[i], g = (int32_t)fg[i], b = (int32_t)fb[i];
        r = r < last_corner ? r : last_corner;
        g = g < last_corner ? g : last_corner;
        b = b < last_corner ? b : last_corner;
        fr[i] -= (float)r, fg[i] -= (float)g, fb[i] -= (float)b;
        c->base[i] = sr * r + sg * g + sb * b;
    }
    if (!tetrahedral) {
        for (int i = 0; i < n; i++) c->w[0][i] = fr[i], c->w[1][i] = fg[i], c->w[2][i] = fb[i];
        return;
    }
    for (int i = 0; i < n; i++) {
        float r = fr[i], g = fg[i], b = fb[i];
        float high = r > g ? r : g, low = r > g ? g : r;
        float f1 = high > b ? high : b, f3 = low < b ? low : b;
        float f2 = high > b ? (low > b ? low : b) : high;
        /* The path steps first along the largest fraction's axis and last along the smallest's;
         * between equal fractions either choice gives the same color. */
        int32_t step1 = (r >= g && r >= b) ? sr : (g >= b ? sg : sb);
        int32_t step3 = (b <= g && b <= r) ? sb : (g <= r ? sg : sr);
        c->v1[i] = c->base[i] + step1;
        c->v2[i] = c->base[i] + sr + sg + sb - step3;
        c->w[0][i] = f1, c->w[1][i] = f2, c->w[2][i] = f3;
    }
}

/* The color of pixel i of a located chunk. */
INLINE v4f interpolate_cell(const v4f *table, const Chunk *c, int i, int size, int tetrahedral) {
    const int32_t sr = sizeof(v4f), sg = sr * size, sb = sg * size;
    const int32_t base = c->base[i];
    if (tetrahedral) {
        /* v3 from a table pointer moved by the diagonal: no offset arithmetic per pixel. */
        const v4f *diagonal = (const v4f *)((const char *)table + sr + sg + sb);
        v4f n0 = node_at(table, base), n1 = node_at(table, c->v1[i]);
        v4f n2 = node_at(table, c->v2[i]), n3 = node_at(diagonal, base);
        return n0 + (n1 - n0) * c->w[0][i] + (n2 - n1) * c->w[1][i] + (n3 - n2) * c->w[2][i];
    }
    /* The cell's corners at 64-bit offsets from its first node: [cell + loop constant]. */
    const char *cell = (const char *)table + base;
    const Py_ssize_t r = sr, g = sg, b = sb;
#define CORNER(offset) (*(const v4f *)(cell + (offset)))
    v4f fr = splat(c->w[0][i]), fg = splat(c->w[1][i]), fb = splat(c->w[2][i]);
    v4f c000 = CORNER(0), c100 = CORNER(r), c010 = CORNER(g), c110 = CORNER(g + r);
    v4f c001 = CORNER(b), c101 = CORNER(b + r), c011 = CORNER(b + g), c111 = CORNER(b + g + r);
#undef CORNER
    v4f c00 = c000 + (c100 - c000) * fr, c10 = c010 + (c110 - c010) * fr;
    v4f c01 = c001 + (c101 - c001) * fr, c11 = c011 + (c111 - c011) * fr;
    v4f c0 = c00 + (c10 - c00) * fg, c1 = c01 + (c11 - c01) * fg;
    return c0 + (c1 - c0) * fb;
}

/* Rounding a chunk's colors to the output: one pixel at a time with SSE2 (store_uint8,
 * store_uint16), or, where AVX-512 packs with saturation, one vectorised loop over the chunk
 * (store_chunk), faster there and slower elsewhere. A color is in the output's range
 * (unclamped: the table is scaled to it), rounded to nearest and clamped. Where `spare` (the
 * next pixel's channels follow and are written later), one 4-, 8- or 16-byte store writes the
 * pixel. */
/* A channel in the output's range, clamped to [0, top] (NaN to 0) and rounded to nearest: the
 * rule every integer store follows (store_uint8 and store_uint16 in SSE2 where they have it). */
INLINE int32_t rounded(float v, float top) {
    return (int32_t)((v > 0.0f ? (v < top ? v : top) : 0.0f) + 0.5f);
}

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
    for (int k = 0; k < 3; k++) d[k] = (uint8_t)rounded(color[k], 255.0f);
#endif
}

INLINE void store_uint16(uint16_t *d, v4f color, int spare) {
#ifdef __SSE2__
    __m128 v = _mm_min_ps(_mm_max_ps((__m128)color, _mm_setzero_ps()), _mm_set1_ps(65535.0f));
    __m128i i = _mm_cvttps_epi32(_mm_add_ps(v, _mm_set1_ps(0.5f)));
    /* SSE2 packs to signed 16 bits only: shift into that range, pack, and shift back. */
    i = _mm_packs_epi32(_mm_sub_epi32(i, _mm_set1_epi32(32768)), _mm_setzero_si128());
    i = _mm_xor_si128(i, _mm_set1_epi16((short)0x8000));
    if (spare) {
        _mm_storel_epi64((__m128i *)d, i);
        return;
    }
    uint64_t word = (uint64_t)_mm_cvtsi128_si64(i);
    d[0] = (uint16_t)word, d[1] = (uint16_t)(word >> 16), d[2] = (uint16_t)(word >> 32);
#else
    (void)spare;
    for (int k = 0; k < 3; k++) d[k] = (uint16_t)rounded(color[k], 65535.0f);
#endif
}

INLINE void store_float(float *d, v4f color, int spare) {
    if (spare)
        memcpy(d, &color, sizeof color);
    else
        d[0] = color[0], d[1] = color[1], d[2] = color[2];
}

INLINE void store_chunk(const v4f *colors, void *destination, Py_ssize_t first, int n, int kind) {
    if (kind == KIND_UINT8) {
        uint8_t *d = (uint8_t *)destination + 3 * first;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 3; k++) d[3 * i + k] = (uint8_t)rounded(colors[i][k], 255.0f);
    } else {
        uint16_t *d = (uint16_t *)destination + 3 * first;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 3; k++) d[3 * i + k] = (uint16_t)rounded(colors[i][k], 65535.0f);
    }
}

/* Float colors of a chunk to `d` (16-byte aligned) past the caches, four pixels in three
 * 16-byte non-temporal stores: a large output is not read back before it is written (the write
 * traffic halves), and it would only push the table and the input out of the caches. */
INLINE void stream_floats(const v4f *colors, float *d, int n) {
    int i = 0;
#ifdef __SSE2__
    typedef int v4i __attribute__((vector_size(16)));
    for (; i + 4 <= n; i += 4) {
        v4f p0 = colors[i], p1 = colors[i + 1], p2 = colors[i + 2], p3 = colors[i + 3];
        _mm_stream_ps(d + 3 * i, (__m128)__builtin_shuffle(p0, p1, (v4i){0, 1, 2, 4}));
        _mm_stream_ps(d + 3 * i + 4, (__m128)__builtin_shuffle(p1, p2, (v4i){1, 2, 4, 5}));
        _mm_stream_ps(d + 3 * i + 8, (__m128)__builtin_shuffle(p2, p3, (v4i){2, 4, 5, 6}));
    }
#endif
    for (; i < n; i++) store_float(d + 3 * i, colors[i], 0);
}

/* Float outputs at least this large are streamed (stream_floats); smaller ones stay cached. */
#define STREAM_BYTES (16 << 20)

/* One job of apply_packed: pixels of `kind` through the packed table, scaled to their range;
 * `stream`: float colors go out through stream_floats. */
typedef struct {
    const void *source;
    void *destination;
    int kind, size, tetrahedral, stream;
    const v4f *table;
} ApplyJob;

/* The colors of a located chunk, rounded and stored to `destination`; `kind`, `tetrahedral`
 * and `wide` are constants where this is inlined, so that each loop is compiled for its case
 * (and the job's fields are locals, which the stores cannot alias). The chunk's pixels were all
 * read: each store may spill into the next pixel's, except the last one's (the next chunk's
 * input, in place). */
INLINE void interpolate_chunk(const v4f *table, int size, void *destination, const Chunk *c,
                              Py_ssize_t first, int n, int kind, int tetrahedral, int wide,
                              int stream) {
    v4f colors[CHUNK];
    if (kind == KIND_FLOAT32 && stream) {
        for (int i = 0; i < n; i++) colors[i] = interpolate_cell(table, c, i, size, tetrahedral);
        stream_floats(colors, (float *)destination + 3 * first, n);
        return;
    }
    for (int i = 0; i < n; i++) {
        v4f color = interpolate_cell(table, c, i, size, tetrahedral);
        Py_ssize_t at = 3 * (first + i);
        if (kind == KIND_FLOAT32)
            store_float((float *)destination + at, color, i + 1 < n);
        else if (wide)
            colors[i] = color;
        else if (kind == KIND_UINT8)
            store_uint8((uint8_t *)destination + at, color, i + 1 < n);
        else
            store_uint16((uint16_t *)destination + at, color, i + 1 < n);
    }
    if (wide && kind != KIND_FLOAT32) store_chunk(colors, destination, first, n, kind);
}

INLINE void apply_range(const ApplyJob *job, Py_ssize_t begin, Py_ssize_t end, int wide) {
    const void *source = job->source;
    void *destination = job->destination;
    const v4f *table = job->table;
    const int kind = job->kind, size = job->size, tetrahedral = job->tetrahedral;
    const int stream = job->stream;
    const size_t pixel_bytes = kind == KIND_UINT8 ? 3 : (kind == KIND_UINT16 ? 6 : 12);
    const char *stop = (const char *)source + pixel_bytes * end;
    /* Float pixels, four times the bytes, go faster in half chunks (measured). */
    const int chunk = kind == KIND_FLOAT32 ? CHUNK / 2 : CHUNK;
    Chunk c;
    for (Py_ssize_t first = begin; first < end; first += chunk) {
        int n = end - first < chunk ? (int)(end - first) : chunk;
        /* The pixels two chunks on are fetched while this one is worked on: the prefetchers
         * alone leave float pixels waiting on memory (one chunk on is too late for them). */
        const char *next = (const char *)source + pixel_bytes * (first + 2 * chunk);
        for (size_t o = 0; o < pixel_bytes * chunk && next + o < stop; o += 64)
            __builtin_prefetch(next + o);
        locate_chunk(source, first, n, kind, size, tetrahedral, &c);
#define INTERPOLATE(KIND, TETRAHEDRAL) \
    interpolate_chunk(table, size, destination, &c, first, n, KIND, TETRAHEDRAL, wide, stream)
        if (tetrahedral) {
            if (kind == KIND_UINT8) INTERPOLATE(KIND_UINT8, 1);
            else if (kind == KIND_UINT16) INTERPOLATE(KIND_UINT16, 1);
            else INTERPOLATE(KIND_FLOAT32, 1);
        } else {
            if (kind == KIND_UINT8) INTERPOLATE(KIND_UINT8, 0);
            else if (kind == KIND_UINT16) INTERPOLATE(KIND_UINT16, 0);
            else INTERPOLATE(KIND_FLOAT32, 0);
        }
#undef INTERPOLATE
    }
#ifdef __SSE2__
    if (stream) _mm_sfence();
#endif
}

/* forward_planar / backward_planar ----------------------------------------------------------- */

INLINE void locate_planar(const float *picture, Py_ssize_t pixels, Py_ssize_t p, int size,
                          Py_ssize_t *base, float *f, int *inside) {
    int c[3];
    for (int k = 0; k < 3; k++) locate(picture[k * pixels + p], size, &c[k], &f[k], &inside[k]);
    *base = c[0] + (Py_ssize_t)size * c[1] + (Py_ssize_t)size * size * c[2];
}

/* Pixels [begin, end) of one (3, P) picture through `table`. */
INLINE void forward_range(const float *picture, float *result, Py_ssize_t pixels,
                          Py_ssize_t begin, Py_ssize_t end, Lut table, int size, int tetrahedral) {
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
INLINE void backward_range(const float *picture, const float *grad_output, float *grad_picture,
                           GradLut *grad_table, Py_ssize_t pixels, Py_ssize_t begin,
                           Py_ssize_t end, Lut table, int size, int tetrahedral) {
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

/* SIMD levels -------------------------------------------------------------------------------- */

/* The hot loops are compiled once per SIMD level: on x86-64 with GCC 12 or later for x86-64-v4
 * (AVX-512) and x86-64-v3 (AVX2, FMA) besides the portable build. The best level the CPU runs is
 * chosen when the module loads; use_simd() switches it, so that the tests run every level the
 * machine has. */
typedef struct {
    const char *name;
    void (*apply_range)(const ApplyJob *job, Py_ssize_t begin, Py_ssize_t end);
    void (*forward_range)(const float *picture, float *result, Py_ssize_t pixels,
                          Py_ssize_t begin, Py_ssize_t end, Lut table, int size, int tetrahedral);
    void (*backward_range)(const float *picture, const float *grad_output, float *grad_picture,
                           GradLut *grad_table, Py_ssize_t pixels, Py_ssize_t begin,
                           Py_ssize_t end, Lut table, int size, int tetrahedral);
} Level;

#define LEVEL(suffix, attributes, wide)                                                         \
    attributes static void apply_range_##suffix(const ApplyJob *job, Py_ssize_t begin,          \
                                                Py_ssize_t end) {                               \
        apply_range(job, begin, end, wide);                                                     \
    }                                                                                           \
    attributes static void forward_range_##suffix(const float *picture, float *result,          \
                                                  Py_ssize_t pixels, Py_ssize_t begin,          \
                                                  Py_ssize_t end, Lut table, int size,          \
                                                  int tetrahedral) {                            \
        forward_range(picture, result, pixels, begin, end, table, size, tetrahedral);           \
    }                                                                                           \
    attributes static void backward_range_##suffix(                                             \
        const float *picture, const float *grad_output, float *grad_picture,                    \
        GradLut *grad_table, Py_ssize_t pixels, Py_ssize_t begin, Py_ssize_t end, Lut table,    \
        int size, int tetrahedral) {                                                            \
        backward_range(picture, grad_output, grad_picture, grad_table, pixels, begin, end,      \
                       table, size, tetrahedral);                                               \
    }

#define LEVEL_ENTRY(name, suffix) \
    {name, apply_range_##suffix, forward_range_##suffix, backward_range_##suffix}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define X86_LEVELS 1
LEVEL(v4, __attribute__((target("arch=x86-64-v4"))), 1)
LEVEL(v3, __attribute__((target("arch=x86-64-v3"))), 0)
#endif
LEVEL(portable, , 0)

/* Best first. */
static const Level levels[] = {
#ifdef X86_LEVELS
    LEVEL_ENTRY("x86-64-v4", v4),
    LEVEL_ENTRY("x86-64-v3", v3),
#endif
    LEVEL_ENTRY("portable", portable),
};
#define LEVEL_COUNT ((int)(sizeof levels / sizeof levels[0]))

static int level_runs(const Level *candidate) {
#ifdef X86_LEVELS
    __builtin_cpu_init();
    if (strcmp(candidate->name, "x86-64-v4") == 0) return __builtin_cpu_supports("x86-64-v4");
    if (strcmp(candidate->name, "x86-64-v3") == 0) return __builtin_cpu_supports("x86-64-v3");
#endif
    (void)candidate;
    return 1;
}

static const Level *level = &levels[LEVEL_COUNT - 1];

/* Python entry points ------------------------------------------------------------------------- */

static PyObject *apply_packed(PyObject *self, PyObject *args) {
    unsigned long long source, destination, lut;
    Py_ssize_t count;
    int kind, size, tetrahedral, threads;
    if (!PyArg_ParseTuple(args, "KKniKiii", &source, &destination, &count, &kind, &lut, &size,
                          &tetrahedral, &threads))
        return NULL;
    if ((double)size * size * size * sizeof(v4f) > (double)MAX_TABLE_BYTES) {
        PyErr_Format(PyExc_ValueError, "a %d-point LUT is too large to apply", size);
        return NULL;
    }
    /* Scaled to the output's range, so integer outputs only round. */
    float scale = kind == KIND_UINT8 ? 255.0f : (kind == KIND_UINT16 ? 65535.0f : 1.0f);
    v4f *table = pack_lut((const float *)(uintptr_t)lut, size, scale);
    if (table == NULL) return PyErr_NoMemory();
    /* Streamed: a large float output, 16-byte aligned (chunks start at multiples of 4 pixels). */
    int stream = kind == KIND_FLOAT32 && count * 12 >= STREAM_BYTES && destination % 16 == 0;
    ApplyJob job = {(const void *)(uintptr_t)source, (void *)(uintptr_t)destination, kind, size,
                    tetrahedral, stream, table};
    void (*run)(const ApplyJob *, Py_ssize_t, Py_ssize_t) = level->apply_range;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t blocks = (count + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) num_threads(team(threads))
    for (Py_ssize_t block = 0; block < blocks; block++)
        run(&job, block * BLOCK, (block + 1) * BLOCK < count ? (block + 1) * BLOCK : count);
    Py_END_ALLOW_THREADS
    free(table);
    Py_RETURN_NONE;
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
            level->forward_range(in + n * 3 * pixels, out + n * 3 * pixels, pixels,
                                 block * BLOCK, end, lut_of(&luts, n), size, tetrahedral);
        }
    }
    Py_END_ALLOW_THREADS
    free(luts.shared);
    Py_RETURN_NONE;
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
                level->backward_range(in + n * 3 * pixels, gout + n * 3 * pixels,
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
            level->backward_range(in + n * 3 * pixels, gout + n * 3 * pixels,
                                  gin == NULL ? NULL : gin + n * 3 * pixels,
                                  gluts == NULL ? NULL : &grad, pixels, 0, pixels,
                                  lut_of(&luts, n), size, tetrahedral);
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

static PyObject *simd_levels(PyObject *self, PyObject *args) {
    PyObject *names = PyList_New(0);
    for (int i = 0; names != NULL && i < LEVEL_COUNT; i++) {
        if (!level_runs(&levels[i])) continue;
        PyObject *name = PyUnicode_FromString(levels[i].name);
        if (name == NULL || PyList_Append(names, name) < 0) Py_CLEAR(names);
        Py_XDECREF(name);
    }
    return names;
}

static PyObject *simd_level(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(level->name);
}

static PyObject *use_simd(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int i = 0; i < LEVEL_COUNT; i++) {
        if (strcmp(levels[i].name, name) != 0 || !level_runs(&levels[i])) continue;
        const char *previous = level->name;
        level = &levels[i];
        return PyUnicode_FromString(previous);
    }
    PyErr_Format(PyExc_ValueError, "SIMD level %s does not run here", name);
    return NULL;
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
    {"simd_levels", simd_levels, METH_NOARGS, "The SIMD levels this CPU runs, best first."},
    {"simd_level", simd_level, METH_NOARGS, "The SIMD level the kernels run at."},
    {"use_simd", use_simd, METH_VARARGS, "use_simd(name): run that level; returns the previous."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lutcli.kernels._native",
                                    "lutcli's CPU kernels (see native.c).", -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    for (int i = 0; i < LEVEL_COUNT; i++)
        if (level_runs(&levels[i])) {
            level = &levels[i];
            break;
        }
    return PyModule_Create(&module);
}
