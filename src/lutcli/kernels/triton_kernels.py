"""The Triton kernels behind ``lutcli.kernels.cuda`` (imported only where triton is).

Tetrahedral interpolation without branches: the axis with the largest fraction (ties to r, then
g) is the first step of the path through the cell, the axis with the smallest (ties to b, then
g) the last, so v1 = v0 + e_max, v2 = v3 - e_min and v3 = v0 + (1, 1, 1).
"""

import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction


@triton.jit
def cell(picture, pixels, offsets, mask, size: tl.constexpr):
    """Lattice cell of each pixel: base index, fractions and 'inside [0, 1]' per channel."""
    r = tl.load(picture + offsets, mask=mask, other=0.0)
    g = tl.load(picture + pixels + offsets, mask=mask, other=0.0)
    b = tl.load(picture + 2 * pixels + offsets, mask=mask, other=0.0)
    pr = tl.minimum(tl.maximum(r, 0.0), 1.0) * (size - 1)
    pg = tl.minimum(tl.maximum(g, 0.0), 1.0) * (size - 1)
    pb = tl.minimum(tl.maximum(b, 0.0), 1.0) * (size - 1)
    ir = tl.minimum(pr.to(tl.int32), size - 2)
    ig = tl.minimum(pg.to(tl.int32), size - 2)
    ib = tl.minimum(pb.to(tl.int32), size - 2)
    base = ir + size * ig + size * size * ib
    inside_r = (r >= 0.0) & (r <= 1.0)
    inside_g = (g >= 0.0) & (g <= 1.0)
    inside_b = (b >= 0.0) & (b <= 1.0)
    return base, pr - ir, pg - ig, pb - ib, inside_r, inside_g, inside_b


@triton.jit
def cell_corners(plane, base, mask, size: tl.constexpr):
    """The 8 lattice values around each pixel, c<r><g><b>, from one channel's plane."""
    sg, sb = size, size * size
    c000 = tl.load(plane + base, mask=mask, other=0.0)
    c100 = tl.load(plane + base + 1, mask=mask, other=0.0)
    c010 = tl.load(plane + base + sg, mask=mask, other=0.0)
    c110 = tl.load(plane + base + sg + 1, mask=mask, other=0.0)
    c001 = tl.load(plane + base + sb, mask=mask, other=0.0)
    c101 = tl.load(plane + base + sb + 1, mask=mask, other=0.0)
    c011 = tl.load(plane + base + sb + sg, mask=mask, other=0.0)
    c111 = tl.load(plane + base + sb + sg + 1, mask=mask, other=0.0)
    return c000, c100, c010, c110, c001, c101, c011, c111


@triton.jit
def path_corners(plane, base, step1, step2, mask, size: tl.constexpr):
    """The 4 lattice values on each pixel's tetrahedral path, from one channel's plane."""
    v0 = tl.load(plane + base, mask=mask, other=0.0)
    v1 = tl.load(plane + base + step1, mask=mask, other=0.0)
    v2 = tl.load(plane + base + step2, mask=mask, other=0.0)
    v3 = tl.load(plane + base + 1 + size + size * size, mask=mask, other=0.0)
    return v0, v1, v2, v3


@triton.jit
def tetrahedron(fr, fg, fb, size: tl.constexpr):
    """Offsets of v1 and v2 from v0, the sorted fractions, and which axis is max / min."""
    r_max = (fr >= fg) & (fr >= fb)
    g_max = ~r_max & (fg >= fb)
    b_min = (fb <= fg) & (fb <= fr)
    g_min = ~b_min & (fg <= fr)
    r_min = ~b_min & ~g_min
    b_max = ~r_max & ~g_max
    step_max = tl.where(r_max, 1, tl.where(g_max, size, size * size))
    step_min = tl.where(b_min, size * size, tl.where(g_min, size, 1))
    total = 1 + size + size * size
    f1 = tl.maximum(fr, tl.maximum(fg, fb))
    f3 = tl.minimum(fr, tl.minimum(fg, fb))
    f2 = fr + fg + fb - f1 - f3
    return step_max, total - step_min, f1, f2, f3, r_max, g_max, b_max, r_min, g_min, b_min


@triton.jit
def forward_kernel(
    image, luts, output, pixels, lut_stride,
    size: tl.constexpr, tetrahedral: tl.constexpr, block: tl.constexpr,
):  # fmt: skip
    n = tl.program_id(1)
    offsets = tl.program_id(0) * block + tl.arange(0, block)
    mask = offsets < pixels
    picture = image + n * 3 * pixels
    base, fr, fg, fb, _, _, _ = cell(picture, pixels, offsets, mask, size)
    nodes = size * size * size
    for channel in tl.static_range(3):
        plane = luts + n * lut_stride + channel * nodes
        if tetrahedral:
            step1, step2, f1, f2, f3, _, _, _, _, _, _ = tetrahedron(fr, fg, fb, size)
            v0, v1, v2, v3 = path_corners(plane, base, step1, step2, mask, size)
            value = v0 + (v1 - v0) * f1 + (v2 - v1) * f2 + (v3 - v2) * f3
        else:
            c000, c100, c010, c110, c001, c101, c011, c111 = cell_corners(plane, base, mask, size)
            c00 = c000 + (c100 - c000) * fr
            c10 = c010 + (c110 - c010) * fr
            c01 = c001 + (c101 - c001) * fr
            c11 = c011 + (c111 - c011) * fr
            c0 = c00 + (c10 - c00) * fg
            c1 = c01 + (c11 - c01) * fg
            value = c0 + (c1 - c0) * fb
        tl.store(output + n * 3 * pixels + channel * pixels + offsets, value, mask=mask)


@triton.jit
def backward_kernel(
    image, luts, grad_output, grad_image, grad_luts, pixels, lut_stride,
    size: tl.constexpr, tetrahedral: tl.constexpr, want_image: tl.constexpr,
    want_luts: tl.constexpr, block: tl.constexpr,
):  # fmt: skip
    n = tl.program_id(1)
    offsets = tl.program_id(0) * block + tl.arange(0, block)
    mask = offsets < pixels
    picture = image + n * 3 * pixels
    base, fr, fg, fb, in_r, in_g, in_b = cell(picture, pixels, offsets, mask, size)
    nodes = size * size * size
    sg, sb = size, size * size
    dr = tl.zeros_like(fr)
    dg = tl.zeros_like(fr)
    db = tl.zeros_like(fr)
    for channel in tl.static_range(3):
        plane = luts + n * lut_stride + channel * nodes
        grads = grad_luts + n * lut_stride + channel * nodes
        g = tl.load(grad_output + n * 3 * pixels + channel * pixels + offsets, mask=mask)
        if tetrahedral:
            step1, step2, f1, f2, f3, r_max, g_max, b_max, r_min, g_min, b_min = tetrahedron(
                fr, fg, fb, size
            )
            top = base + 1 + size + size * size
            if want_luts:
                tl.atomic_add(grads + base, g * (1 - f1), mask=mask)
                tl.atomic_add(grads + base + step1, g * (f1 - f2), mask=mask)
                tl.atomic_add(grads + base + step2, g * (f2 - f3), mask=mask)
                tl.atomic_add(grads + top, g * f3, mask=mask)
            if want_image:
                v0, v1, v2, v3 = path_corners(plane, base, step1, step2, mask, size)
                d1, d2, d3 = (v1 - v0) * g, (v2 - v1) * g, (v3 - v2) * g
                dr += tl.where(r_max, d1, tl.where(r_min, d3, d2))
                dg += tl.where(g_max, d1, tl.where(g_min, d3, d2))
                db += tl.where(b_max, d1, tl.where(b_min, d3, d2))
        else:
            if want_luts:
                tl.atomic_add(grads + base, g * (1 - fr) * (1 - fg) * (1 - fb), mask=mask)
                tl.atomic_add(grads + base + 1, g * fr * (1 - fg) * (1 - fb), mask=mask)
                tl.atomic_add(grads + base + sg, g * (1 - fr) * fg * (1 - fb), mask=mask)
                tl.atomic_add(grads + base + sg + 1, g * fr * fg * (1 - fb), mask=mask)
                tl.atomic_add(grads + base + sb, g * (1 - fr) * (1 - fg) * fb, mask=mask)
                tl.atomic_add(grads + base + sb + 1, g * fr * (1 - fg) * fb, mask=mask)
                tl.atomic_add(grads + base + sb + sg, g * (1 - fr) * fg * fb, mask=mask)
                tl.atomic_add(grads + base + sb + sg + 1, g * fr * fg * fb, mask=mask)
            if want_image:
                corners = cell_corners(plane, base, mask, size)
                c000, c100, c010, c110, c001, c101, c011, c111 = corners
                dr += g * (
                    (c100 - c000) * (1 - fg) * (1 - fb) + (c110 - c010) * fg * (1 - fb)
                    + (c101 - c001) * (1 - fg) * fb + (c111 - c011) * fg * fb
                )  # fmt: skip
                dg += g * (
                    (c010 - c000) * (1 - fr) * (1 - fb) + (c110 - c100) * fr * (1 - fb)
                    + (c011 - c001) * (1 - fr) * fb + (c111 - c101) * fr * fb
                )  # fmt: skip
                db += g * (
                    (c001 - c000) * (1 - fr) * (1 - fg) + (c101 - c100) * fr * (1 - fg)
                    + (c011 - c010) * (1 - fr) * fg + (c111 - c110) * fr * fg
                )  # fmt: skip
    if want_image:
        scale = size - 1.0
        target = grad_image + n * 3 * pixels + offsets
        tl.store(target, tl.where(in_r, dr * scale, 0.0), mask=mask)
        tl.store(target + pixels, tl.where(in_g, dg * scale, 0.0), mask=mask)
        tl.store(target + 2 * pixels, tl.where(in_b, db * scale, 0.0), mask=mask)


# Whether triton decorated these kernels for its interpreter (TRITON_INTERPRET was set when this
# module was imported): they then run on CPU tensors, not on a GPU.
INTERPRETED = isinstance(forward_kernel, InterpretedFunction)
