"""Fitting a LUT to color pairs by regularized least squares, solved exactly.

For one LUT the training loss (mean squared error plus the smoothness regularizer, see
``lutcli.training.losses``) is a convex quadratic in the lattice values: its minimum solves a
sparse linear system. Conjugate gradients find it in seconds, where stochastic gradient descent
on random crops would need many epochs to settle and still jitter around it.
"""

from __future__ import annotations

import torch

from lutcli.lut.interpolate import trilinear_corners
from lutcli.lut.lattice import identity_lut


def fit_lut(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    size: int,
    smoothness_weight: float,
    max_iterations: int = 1000,
    tolerance: float = 1e-7,
) -> torch.Tensor:
    """The LUT (3, D, D, D) minimising MSE(lut(inputs), targets) + weight * smoothness(lut).

    inputs, targets: (3, P) float RGB in [0, 1], the colors of all training pixels. Identical
    input colors are merged first (a photo has far fewer distinct colors than pixels). Lattice
    cells no pixel touches are filled smoothly from their neighbours by the smoothness term.
    """
    if smoothness_weight <= 0:
        raise ValueError("fit_lut needs a positive smoothness weight to fill unseen cells")
    pixels = inputs.shape[1]
    colors, counts, mean_targets = _merge_identical_colors(inputs.double(), targets.double())
    indices, weights = (t[0] for t in trilinear_corners(colors[None], size))  # (8, U) each
    # Normal equations of the loss times 3P: (WᵀCW + mu ∇ᵀ∇) L = WᵀCy, with W the trilinear
    # weights, C the color counts, and mu = 3 P weight / n, n the number of differences per
    # axis (the loss takes their mean). WᵀCW couples each lattice point only with its 26
    # neighbours: it is built once as a 27-point stencil, so each solver step costs O(D³)
    # whatever the number of training colors.
    mu = 3 * pixels * smoothness_weight / (3 * size * size * (size - 1))
    stencil = _normal_stencil(indices, weights, counts, size)
    right = torch.zeros(3, size**3, dtype=torch.float64)
    for k in range(8):
        right.index_add_(1, indices[k], weights[k] * counts * mean_targets)

    def operator(lut: torch.Tensor) -> torch.Tensor:
        cube = lut.view(3, size, size, size)
        return (_apply_stencil(stencil, cube) + mu * _laplacian(cube)).view(3, -1)

    diagonal = stencil[13].reshape(-1) + mu * _laplacian_diagonal(size).view(-1)
    start = identity_lut(size).double().view(3, -1)
    solution = _conjugate_gradients(operator, right, diagonal, start, max_iterations, tolerance)
    return solution.view(3, size, size, size).float()


# The 27 offsets (db, dg, dr) of a lattice point's neighbourhood; index 13 is (0, 0, 0).
_OFFSETS = [(db, dg, dr) for db in (-1, 0, 1) for dg in (-1, 0, 1) for dr in (-1, 0, 1)]


def _corner_offset(k: int) -> tuple[int, int, int]:
    """(db, dg, dr) of corner k as ``trilinear_corners`` orders them (red bit lowest)."""
    return (k >> 2) & 1, (k >> 1) & 1, k & 1


def _normal_stencil(
    indices: torch.Tensor, weights: torch.Tensor, counts: torch.Tensor, size: int
) -> torch.Tensor:
    """WᵀCW as (27, D, D, D): entry [o, p] couples lattice point p with p + _OFFSETS[o]."""
    stencil = torch.zeros(27, size**3, dtype=torch.float64)
    for k in range(8):
        for m in range(8):
            delta = (a - b for a, b in zip(_corner_offset(m), _corner_offset(k), strict=True))
            offset = _OFFSETS.index(tuple(delta))
            stencil[offset].index_add_(0, indices[k], counts * weights[k] * weights[m])
    return stencil.view(27, size, size, size)


def _apply_stencil(stencil: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """(WᵀCW) L for L (3, D, D, D): each point gathers its neighbours times the stencil."""
    size = lut.shape[-1]
    padded = torch.nn.functional.pad(lut, (1, 1, 1, 1, 1, 1))
    out = torch.zeros_like(lut)
    for offset, (db, dg, dr) in enumerate(_OFFSETS):
        neighbour = padded[
            :, 1 + db : 1 + db + size, 1 + dg : 1 + dg + size, 1 + dr : 1 + dr + size
        ]
        out += stencil[offset] * neighbour
    return out


def _merge_identical_colors(
    inputs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct input colors (3, U), how often each occurs (U,), and their mean targets (3, U)."""
    levels = (inputs.clamp(0, 1) * 65535).round().long()
    keys = levels[0] + 65536 * (levels[1] + 65536 * levels[2])
    unique, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    sums = torch.zeros(3, len(unique), dtype=targets.dtype).index_add_(1, inverse, targets)
    colors = torch.stack([unique % 65536, unique // 65536 % 65536, unique // 65536**2])
    return colors.double() / 65535, counts.double(), sums / counts


def _laplacian(lut: torch.Tensor) -> torch.Tensor:
    """∇ᵀ∇ of (3, D, D, D): the gradient of half the sum of squared neighbour differences."""
    out = torch.zeros_like(lut)
    for axis in (1, 2, 3):
        difference = torch.diff(lut, dim=axis)
        length = lut.shape[axis] - 1
        out.narrow(axis, 0, length).sub_(difference)
        out.narrow(axis, 1, length).add_(difference)
    return out


def _laplacian_diagonal(size: int) -> torch.Tensor:
    """Diagonal of ∇ᵀ∇ on one channel: the number of lattice neighbours of each point."""
    per_axis = torch.full((size,), 2.0, dtype=torch.float64)
    per_axis[0] = per_axis[-1] = 1.0
    b, g, r = torch.meshgrid(per_axis, per_axis, per_axis, indexing="ij")
    return b + g + r


def _conjugate_gradients(operator, right, diagonal, start, max_iterations, tolerance):
    """Jacobi-preconditioned CG on the three channels at once (rows of (3, M) arrays)."""
    solution = start.clone()
    residual = right - operator(solution)
    preconditioned = residual / diagonal
    direction = preconditioned.clone()
    product = (residual * preconditioned).sum(dim=1, keepdim=True)
    goal = tolerance * right.norm(dim=1, keepdim=True).clamp_min(1e-30)
    for _ in range(max_iterations):
        if bool((residual.norm(dim=1, keepdim=True) <= goal).all()):
            break
        applied = operator(direction)
        step = product / (direction * applied).sum(dim=1, keepdim=True).clamp_min(1e-300)
        solution += step * direction
        residual -= step * applied
        preconditioned = residual / diagonal
        new_product = (residual * preconditioned).sum(dim=1, keepdim=True)
        direction = preconditioned + (new_product / product) * direction
        product = new_product
    return solution
