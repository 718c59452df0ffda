"""Applying a LUT to images: trilinear and tetrahedral interpolation of the lattice.

``apply_lut`` runs the compiled kernels (``lutcli.kernels``; LUTCLI_KERNELS chooses them) where
they can, and otherwise ``reference_apply_lut``: the same interpolation in plain torch, exact,
differentiable with respect to both the LUT and the image, batched, and device-agnostic. The
kernels are tested against it.
"""

from __future__ import annotations

import torch

from lutcli import kernels
from lutcli.errors import LutcliError
from lutcli.kernels import INTERPOLATIONS, cpu, cpu_planar, cuda, is_tetrahedral

# INTERPOLATIONS is defined beside the kernels, the lowest layer, and is public here too.
__all__ = ["INTERPOLATIONS", "apply_lut", "compose_luts", "reference_apply_lut"]

# Pixels interpolated at once when no gradient is needed: bounds the memory of the 8 (or 4)
# gathered corner colors for a large photo to a few hundred MB.
_INFERENCE_CHUNK = 1 << 20


def apply_lut(image: torch.Tensor, lut: torch.Tensor, interp: str = "trilinear") -> torch.Tensor:
    """Map every pixel's color through ``lut``.

    image: (N, 3, H, W) float RGB in [0, 1] (values outside are clamped to the cube).
    lut: (3, D, D, D) shared by the batch, or (N, 3, D, D, D) one per image; ``[c, b, g, r]``.
    interp: "trilinear" (default) or "tetrahedral".
    Returns (N, 3, H, W) in the LUT's value range (not clamped).
    """
    _check(image, lut, interp)
    kernel = _kernel_for(image, lut)
    if kernel is None:
        return reference_apply_lut(image, lut, interp)
    batch, _, height, width = image.shape
    table = lut if lut.dim() == 5 else lut.unsqueeze(0)
    colors = image.reshape(batch, 3, height * width)
    return kernel(colors, table, interp).reshape(image.shape)


def _kernel_for(image: torch.Tensor, lut: torch.Tensor):
    """The kernel LUTCLI_KERNELS chooses for these tensors (``lutcli.kernels``), or None for
    the torch reference; the kernels take float32 tensors on one device."""
    choice = kernels.chosen_kernels()
    same = image.dtype == lut.dtype == torch.float32 and image.device == lut.device
    if choice == "reference" or not same:
        return None
    if choice == "triton":
        if not cuda.runs_on(image.device):
            raise LutcliError(
                f"LUTCLI_KERNELS=triton, but the Triton kernels cannot run on {image.device} "
                "tensors here: they need a CUDA GPU, or on the CPU TRITON_INTERPRET=1 (Triton's "
                "interpreter) set before they are first used, and triton installed"
            )
        return cuda.interpolate_planar
    if image.device.type == "cpu":
        if cpu.available():
            return cpu_planar.interpolate_planar
        cpu.notice_fallback()
        return None
    return cuda.interpolate_planar if image.is_cuda and cuda.runs_on(image.device) else None


def compose_luts(
    first: torch.Tensor, then: torch.Tensor, interp: str = "trilinear"
) -> torch.Tensor:
    """The LUT of ``then`` applied after ``first``, on ``first``'s lattice: ``then`` looks up
    each of ``first``'s values. Each is (3, D, D, D), or (N, 3, D, D, D) one per picture; the
    result is per picture if either is. Differentiable with respect to both."""
    table = first if first.dim() == 5 else first.unsqueeze(0)
    if then.dim() == 5 and table.shape[0] != then.shape[0]:
        table = table.expand(then.shape[0], -1, -1, -1, -1)
    size = table.shape[-1]
    values = table.reshape(table.shape[0], 3, size * size, size)  # the lattice as a picture
    composed = apply_lut(values, then, interp).reshape(table.shape)
    return composed if first.dim() == 5 or then.dim() == 5 else composed[0]


def _check(image: torch.Tensor, lut: torch.Tensor, interp: str) -> None:
    """Raise ValueError unless apply_lut can take these arguments."""
    is_tetrahedral(interp)  # raises for an unknown name
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (N, 3, H, W), got {tuple(image.shape)}")
    batch, size = image.shape[0], lut.shape[-1]
    shapes = ((3, size, size, size), (batch, 3, size, size, size))
    if tuple(lut.shape) not in shapes or size < 2:
        raise ValueError(
            f"lut must be (3, D, D, D) or ({batch}, 3, D, D, D), got {tuple(lut.shape)}"
        )


def reference_apply_lut(
    image: torch.Tensor, lut: torch.Tensor, interp: str = "trilinear"
) -> torch.Tensor:
    """``apply_lut`` in plain torch, on any device and dtype: the reference of the kernels."""
    _check(image, lut, interp)
    batch, _, height, width = image.shape
    size = lut.shape[-1]
    if lut.dim() == 4:
        lut = lut.unsqueeze(0).expand(batch, -1, -1, -1, -1)
    table = lut.reshape(batch, 3, size**3).to(image.dtype)
    colors = image.reshape(batch, 3, height * width)
    kernel = _trilinear if interp == "trilinear" else _tetrahedral
    needs_grad = torch.is_grad_enabled() and (image.requires_grad or lut.requires_grad)
    if needs_grad or colors.shape[-1] <= _INFERENCE_CHUNK:
        out = kernel(colors, table, size)
    else:
        chunks = colors.split(_INFERENCE_CHUNK, dim=-1)
        out = torch.cat([kernel(chunk, table, size) for chunk in chunks], dim=-1)
    return out.reshape(batch, 3, height, width)


def _cell(colors: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lattice cell of each color: its lower corner (long) and the position inside it in [0, 1]."""
    position = colors.clamp(0.0, 1.0) * (size - 1)
    corner = position.detach().floor().clamp(max=size - 2)
    return corner.long(), position - corner


def _gather(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """table (N, 3, D³), index (N, P) flat lattice index -> (N, 3, P) lattice colors."""
    return table.gather(2, index.unsqueeze(1).expand(-1, 3, -1))


def trilinear_corners(colors: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8 lattice corners around each color and their trilinear weights.

    colors: (N, 3, P) RGB in [0, 1]. Returns flat lattice indices (N, 8, P) long and weights
    (N, 8, P) that sum to 1, so that the interpolated color is sum_k weight_k * lut[index_k].
    """
    corner, frac = _cell(colors, size)
    base = corner[:, 0] + size * corner[:, 1] + size * size * corner[:, 2]
    fr, fg, fb = frac[:, 0], frac[:, 1], frac[:, 2]
    indices, weights = [], []
    for db, wb in ((0, 1 - fb), (1, fb)):
        for dg, wg in ((0, 1 - fg), (1, fg)):
            for dr, wr in ((0, 1 - fr), (1, fr)):
                indices.append(base + (dr + size * dg + size * size * db))
                weights.append(wr * wg * wb)
    return torch.stack(indices, dim=1), torch.stack(weights, dim=1)


def _trilinear(colors: torch.Tensor, table: torch.Tensor, size: int) -> torch.Tensor:
    """colors (N, 3, P) -> (N, 3, P): weighted sum of the 8 corners of each color's cell."""
    indices, weights = trilinear_corners(colors, size)
    out = torch.zeros_like(colors)
    for k in range(8):
        out = out + weights[:, k : k + 1] * _gather(table, indices[:, k])
    return out


def _tetrahedral(colors: torch.Tensor, table: torch.Tensor, size: int) -> torch.Tensor:
    """colors (N, 3, P) -> (N, 3, P): interpolation inside one of the cell's 6 tetrahedra.

    With the fractional parts sorted f1 >= f2 >= f3 along axes a1, a2, a3, the tetrahedron runs
    from the lower corner v0 through v1 = v0 + e_a1, v2 = v1 + e_a2 to the upper corner v3, and
    the color is (1 - f1) v0 + (f1 - f2) v1 + (f2 - f3) v2 + f3 v3.
    """
    corner, frac = _cell(colors, size)
    base = corner[:, 0] + size * corner[:, 1] + size * size * corner[:, 2]
    sorted_frac, axis = frac.sort(dim=1, descending=True)
    strides = torch.tensor([1, size, size * size], device=colors.device)
    steps = strides[axis].cumsum(dim=1)  # (N, 3, P): offsets of v1, v2, v3 from v0
    f1, f2, f3 = sorted_frac[:, 0:1], sorted_frac[:, 1:2], sorted_frac[:, 2:3]
    out = (1 - f1) * _gather(table, base)
    out = out + (f1 - f2) * _gather(table, base + steps[:, 0])
    out = out + (f2 - f3) * _gather(table, base + steps[:, 1])
    return out + f3 * _gather(table, base + steps[:, 2])
