"""LUT lattices (see ``lutcli.lut`` for the tensor convention)."""

from __future__ import annotations

import torch


def identity_lut(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The LUT that maps every color to itself: (3, D, D, D) float32, ``[c, b, g, r]``, in [0, 1].

    Its values are the input colors of the lattice points, so pushing it through any color
    mapping samples that mapping on the lattice (how a model becomes a .cube table).
    """
    if size < 2:
        raise ValueError(f"a LUT needs at least 2 lattice points per axis, got {size}")
    axis = torch.linspace(0.0, 1.0, size, device=device)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b])
