"""Color grading operations: the vocabulary that defines the shipped looks (``presets/``).

Each operation maps RGB colors, a (3, ...) float tensor in [0, 1] with the channel first (a
picture (3, H, W) or a LUT lattice (3, D, D, D)), to new colors, and each maps every color alone,
so a chain of them is a color mapping that one LUT holds exactly (up to interpolation).
``apply_operations`` runs a chain written as data: ``[["saturation", {"amount": 1.2}], ...]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

# Rec. 709 luma weights: how bright each primary looks.
LUMA = (0.2126, 0.7152, 0.0722)


def _channels(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """Three per-channel values shaped to broadcast against (3, ...) ``like``."""
    view = (3,) + (1,) * (like.dim() - 1)
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(view)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """(3, ...) → (1, ...): the brightness of each color."""
    return (rgb * _channels(LUMA, rgb)).sum(dim=0, keepdim=True)


def exposure(rgb: torch.Tensor, stops: float) -> torch.Tensor:
    """Brighter (or darker, negative) by ``stops`` photographic stops: × 2^stops."""
    return rgb * 2.0**stops


def white_balance(rgb: torch.Tensor, temperature: float, tint: float = 0.0) -> torch.Tensor:
    """Warmer (``temperature`` > 0: more red, less blue) or cooler; ``tint`` > 0 adds magenta
    (less green). Gains of 1 ± the amounts."""
    gains = (1 + temperature, 1 - tint, 1 - temperature)
    return rgb * _channels(gains, rgb)


def contrast(rgb: torch.Tensor, strength: float, pivot: float = 0.5) -> torch.Tensor:
    """An S-curve steepest at ``pivot`` (a logistic curve rescaled to keep 0 and 1, so only at
    0.5 does the pivot stay where it is): ``strength`` 0 is the identity, larger is punchier.
    (Flatter looks use ``fade``.)"""
    if strength < 0:
        raise ValueError(f"contrast strength must be at least 0, got {strength}")
    if strength == 0:
        return rgb
    low, high = _logistic(-pivot, strength), _logistic(1 - pivot, strength)
    return (_logistic(rgb - pivot, strength) - low) / (high - low)


def _logistic(x: torch.Tensor | float, strength: float) -> torch.Tensor:
    return torch.sigmoid(torch.as_tensor(x) * strength)


def saturation(rgb: torch.Tensor, amount: float) -> torch.Tensor:
    """Colors pushed away from (``amount`` > 1) or toward (< 1) their gray of equal luma."""
    gray = luma(rgb)
    return gray + (rgb - gray) * amount


def fade(rgb: torch.Tensor, black: float, white: float) -> torch.Tensor:
    """Black lifted to ``black`` and white lowered to ``white``: the matte of faded prints."""
    return black + (white - black) * rgb


def split_tone(
    rgb: torch.Tensor, shadows: Sequence[float], highlights: Sequence[float], amount: float
) -> torch.Tensor:
    """Shadows tinted toward the ``shadows`` color and highlights toward ``highlights`` (RGB
    offsets from neutral), by ``amount``; the tint fades out toward the other end."""
    brightness = luma(rgb).clamp(0, 1)
    tint = (1 - brightness) * _channels(shadows, rgb) + brightness * _channels(highlights, rgb)
    return rgb + amount * tint


def monochrome(rgb: torch.Tensor, mix: Sequence[float] = LUMA) -> torch.Tensor:
    """Black and white: every channel becomes ``mix`` · RGB (the weights of a color filter)."""
    gray = (rgb * _channels(mix, rgb)).sum(dim=0, keepdim=True)
    return gray.expand_as(rgb)


OPERATIONS: dict[str, Callable[..., torch.Tensor]] = {
    operation.__name__: operation
    for operation in (
        exposure,
        white_balance,
        contrast,
        saturation,
        fade,
        split_tone,
        monochrome,
    )
}


def apply_operations(rgb: torch.Tensor, operations: Sequence[Sequence[Any]]) -> torch.Tensor:
    """Run ``[[name, {argument: value}], ...]`` in order, clamping to [0, 1] at the end.

    ValueError names an unknown operation or a bad argument.
    """
    for step in operations:
        if not isinstance(step, (list, tuple)) or len(step) != 2 or not isinstance(step[1], dict):
            raise ValueError(f"an operation is [name, {{arguments}}], got {step!r}")
        name, arguments = step
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; known: {', '.join(OPERATIONS)}")
        try:
            rgb = OPERATIONS[name](rgb, **arguments)
        except TypeError as error:
            raise ValueError(f"bad arguments for {name}: {error}") from None
    return rgb.clamp(0, 1)
