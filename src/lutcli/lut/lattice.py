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
    lut = torch.empty(3, size, size, size, device=device)
    # Filled by broadcasting, not torch.stack: on the meta device (where models are sized
    # before they are built) stack would import torch's compiler, seconds and 175 MB.
    lut[0] = axis.view(1, 1, size)  # red changes fastest
    lut[1] = axis.view(1, size, 1)
    lut[2] = axis.view(size, 1, 1)
    return lut
