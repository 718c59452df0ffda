"""LUTs that own their table, input domain and interpolation: ``Lut1D``, ``Lut3D``, and
``LutSequence`` (a 1D shaper before a 3D table, as Resolve and .csp files hold them).

Every LUT has one ``apply``: a float tensor (N, 3, H, W) gives a tensor, decoded pixels
(H, W, 3) uint8, uint16 or float32 give pixels of the same type. A plain 3D table over 0..1
runs on pixels in the compiled kernel; anything else is computed in float a strip of rows at a
time, so memory stays bounded for any photo. ``LutFile`` is what a LUT file holds: the LUT, with
the file's title and comments beside it. Tables follow the ``lutcli.lut`` convention: 3D
``(3, D, D, D)`` indexed ``[c, b, g, r]``, 1D ``(N, 3)``.

torch is imported only where tensors are computed: a plain 3D table applied to pixels on the
CPU, what ``lutcli apply --lut`` does, needs numpy and the compiled kernel alone.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

from lutcli.io.pixels import CHANNEL_ORDERS, from_tensor, strips, to_tensor
from lutcli.kernels import cpu as kernels_cpu
from lutcli.kernels import is_tetrahedral

if TYPE_CHECKING:
    import torch


def is_tensor(value: object) -> bool:
    """Whether ``value`` is a torch tensor, without importing torch: none exists before it is."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def device_type(device: torch.device | str) -> str:
    """The kind of a device, or of a device's name: "cpu", "cuda"..."""
    return getattr(device, "type", None) or str(device).split(":")[0]


def _domain(domain_min: np.ndarray, domain_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of an input domain as (3,) float64 arrays; ValueError unless min < max."""
    low = np.array(np.broadcast_to(np.asarray(domain_min, dtype=np.float64), (3,)))
    high = np.array(np.broadcast_to(np.asarray(domain_max, dtype=np.float64), (3,)))
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise ValueError(f"domain_min must be below domain_max on every channel: {low}, {high}")
    return low, high


def _normalise(image: torch.Tensor, low: np.ndarray, high: np.ndarray) -> torch.Tensor:
    """Image values mapped from the domain low..high to 0..1 per channel (not clamped)."""
    if image.dim() != 4 or image.shape[1] != 3 or not image.is_floating_point():
        raise ValueError(
            f"image must be float (N, 3, H, W), got {image.dtype} {tuple(image.shape)}"
        )
    if not (low == 0).all() or not (high == 1).all():
        import torch

        low_t = torch.tensor(low, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
        span = torch.tensor(high - low, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
        image = (image - low_t) / span
    return image


class _Lut:
    """What every LUT shares: ``apply`` to tensors or to pixels."""

    def apply_tensor(self, image: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def apply(
        self,
        image: torch.Tensor | np.ndarray,
        *,
        channel_order: str = "RGB",
        threads: int | None = None,
        out: np.ndarray | None = None,
        device: torch.device | str = "cpu",
    ):
        """The colors of ``image`` through this LUT, in the image's own form.

        A tensor (N, 3, H, W) float RGB gives a tensor on its device. Pixels (H, W, 3) uint8,
        uint16 or float32 in [0, 1], in ``channel_order`` ("RGB" or "BGR"), give pixels of the
        same type and order (``out`` may be the pixels themselves: in place). ``threads`` caps
        the compiled kernel's cores; ``device`` is where float strips are computed when the
        kernel cannot run. Inputs outside the domain are clamped to it.
        """
        if is_tensor(image):
            return self.apply_tensor(image)
        if channel_order not in CHANNEL_ORDERS:  # a typo must not silently swap red and blue
            raise ValueError(f"channel_order must be RGB or BGR, got {channel_order!r}")
        return self.apply_pixels(image, channel_order, threads, out, device)

    def apply_pixels(
        self,
        pixels: np.ndarray,
        channel_order: str,
        threads: int | None,
        out: np.ndarray | None,
        device: torch.device | str,
    ) -> np.ndarray:
        """``apply`` on pixels, in float a strip of rows at a time (a strip's float copy is
        all the extra memory, whatever the photo)."""
        import torch

        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"pixels must be (H, W, 3), got {pixels.shape}")
        out = np.empty_like(pixels) if out is None else out
        bgr = channel_order == "BGR"
        for rows in strips(*pixels.shape[:2]):
            strip = pixels[rows]
            if strip.dtype == np.float32:
                image = torch.from_numpy(np.ascontiguousarray(strip)).permute(2, 0, 1)[None]
            else:
                image = to_tensor(strip)
            image = image.flip(1) if bgr else image
            mapped = self.apply_tensor(image.to(device))
            mapped = mapped.flip(1) if bgr else mapped
            if strip.dtype == np.float32:
                out[rows] = mapped[0].permute(1, 2, 0).cpu().numpy()
            else:
                out[rows] = from_tensor(mapped, strip.dtype)
        return out


@dataclass(eq=False)
class Lut1D(_Lut):
    """A per-channel curve: row i of ``table`` (N, 3) float32 is the output RGB for the input
    ``domain_min + i / (N - 1) * (domain_max - domain_min)`` of each channel, linearly
    interpolated between rows."""

    table: np.ndarray
    domain_min: np.ndarray = field(default_factory=lambda: np.zeros(3))
    domain_max: np.ndarray = field(default_factory=lambda: np.ones(3))

    def __post_init__(self) -> None:
        self.table = np.ascontiguousarray(self.table, dtype=np.float32)  # float32: not copied
        if self.table.ndim != 2 or self.table.shape[1] != 3 or self.table.shape[0] < 2:
            raise ValueError(f"a 1D LUT table must be (N >= 2, 3), got {self.table.shape}")
        self.domain_min, self.domain_max = _domain(self.domain_min, self.domain_max)

    @property
    def size(self) -> int:
        """Number of entries N."""
        return self.table.shape[0]

    @property
    def has_default_domain(self) -> bool:
        """Whether the curve spans exactly 0..1 on every channel."""
        return bool((self.domain_min == 0).all() and (self.domain_max == 1).all())

    def apply_tensor(self, image: torch.Tensor) -> torch.Tensor:
        import torch

        size = self.size
        position = _normalise(image, self.domain_min, self.domain_max).clamp(0, 1) * (size - 1)
        lower = position.floor().clamp(0, size - 2)
        # Channel-major flat table: channel c's curve starts at c * size.
        curves = torch.from_numpy(self.table.T.copy()).to(image.device, image.dtype).reshape(-1)
        start = torch.arange(3, device=image.device).view(1, 3, 1, 1) * size
        index = lower.long() + start
        below, above = curves[index], curves[index + 1]
        return below + (position - lower) * (above - below)

    def with_interp(self, interp: str) -> Lut1D:
        """This LUT (a curve is always interpolated linearly)."""
        is_tetrahedral(interp)  # raises for an unknown name
        return self


@dataclass(eq=False)
class Lut3D(_Lut):
    """A 3D table (3, D, D, D) float32 indexed ``[c, b, g, r]``; lattice index i stands for the
    input ``domain_min + i / (D - 1) * (domain_max - domain_min)`` on each axis, and colors
    between lattice points are ``interp`` ("trilinear" or "tetrahedral") of them."""

    table: np.ndarray
    domain_min: np.ndarray = field(default_factory=lambda: np.zeros(3))
    domain_max: np.ndarray = field(default_factory=lambda: np.ones(3))
    interp: str = "trilinear"

    def __post_init__(self) -> None:
        if is_tensor(self.table):
            self.table = self.table.detach().cpu().numpy()
        self.table = np.ascontiguousarray(self.table, dtype=np.float32)  # float32: not copied
        shape = self.table.shape
        if len(shape) != 4 or shape[0] != 3 or not shape[1] == shape[2] == shape[3] >= 2:
            raise ValueError(f"a 3D LUT table must be (3, D, D, D) with D >= 2, got {shape}")
        self.domain_min, self.domain_max = _domain(self.domain_min, self.domain_max)
        is_tetrahedral(self.interp)  # raises for an unknown name

    @property
    def size(self) -> int:
        """Lattice points per axis D."""
        return self.table.shape[-1]

    @property
    def has_default_domain(self) -> bool:
        """Whether the table spans exactly 0..1 on every axis."""
        return bool((self.domain_min == 0).all() and (self.domain_max == 1).all())

    def apply_tensor(self, image: torch.Tensor) -> torch.Tensor:
        import torch

        from lutcli.lut.interpolate import apply_lut

        coords = _normalise(image, self.domain_min, self.domain_max)
        lut = torch.from_numpy(self.table).to(image.device, image.dtype)
        return apply_lut(coords, lut, self.interp)

    def apply_pixels(
        self,
        pixels: np.ndarray,
        channel_order: str,
        threads: int | None,
        out: np.ndarray | None,
        device: torch.device | str,
    ) -> np.ndarray:
        """The compiled kernel on the pixels themselves where it runs (CPU, a 0..1 table);
        float strips otherwise."""
        on_cpu = device_type(device) == "cpu"
        if not on_cpu or not self.has_default_domain or not kernels_cpu.available():
            kernels_cpu.notice_fallback()
            return super().apply_pixels(pixels, channel_order, threads, out, device)
        table = self.table
        if channel_order == "BGR":  # the same LUT with its axes and outputs in BGR order
            table = table[::-1].transpose(0, 3, 2, 1)
        return kernels_cpu.apply_to_pixels(pixels, table, self.interp, threads, out)

    def with_interp(self, interp: str) -> Lut3D:
        """The same table, interpolated as ``interp`` says."""
        return dataclasses.replace(self, interp=interp)


@dataclass(eq=False)
class LutSequence(_Lut):
    """LUTs applied one after the other: a 1D shaper that spreads the input over a 3D table
    (Resolve's .cube, .csp), or any chain of them."""

    luts: list[Lut1D | Lut3D]

    def __post_init__(self) -> None:
        self.luts = list(self.luts)
        if not self.luts or not all(isinstance(lut, Lut1D | Lut3D) for lut in self.luts):
            raise ValueError("a LUT sequence needs one or more Lut1D or Lut3D")

    @property
    def domain_min(self) -> np.ndarray:
        """The input domain of the sequence: that of its first LUT."""
        return self.luts[0].domain_min

    @property
    def domain_max(self) -> np.ndarray:
        return self.luts[0].domain_max

    def apply_tensor(self, image: torch.Tensor) -> torch.Tensor:
        for lut in self.luts:
            image = lut.apply_tensor(image)
        return image

    def with_interp(self, interp: str) -> LutSequence:
        """The same LUTs, their 3D tables interpolated as ``interp`` says."""
        return LutSequence([lut.with_interp(interp) for lut in self.luts])


Lut = Union[Lut1D, Lut3D, LutSequence]  # noqa: UP007 (a runtime alias: isinstance takes it)


def describe(lut: Lut) -> str:
    """A LUT in a few words, for messages: "33x33x33", "1D, 1024 entries", or the parts of
    a sequence joined by " then "."""
    if isinstance(lut, Lut3D):
        return "x".join([str(lut.size)] * 3)
    if isinstance(lut, Lut1D):
        return f"1D, {lut.size} entries"
    return " then ".join(describe(part) for part in lut.luts)


def tables(lut: Lut) -> list[Lut1D | Lut3D]:
    """The tables of ``lut``, in the order they apply."""
    return list(lut.luts) if isinstance(lut, LutSequence) else [lut]


# The lattice a LUT with no 3D table is baked to by a format that holds one: 33 points a side,
# as most 3D LUT files have.
BAKE_SIZE = 33


def bake_size(lut: Lut) -> int:
    """The lattice a format holding one 3D table bakes ``lut`` to: the size of its largest 3D
    table, or BAKE_SIZE for curves alone."""
    return max((part.size for part in tables(lut) if isinstance(part, Lut3D)), default=BAKE_SIZE)


def bake(lut: Lut, size: int) -> Lut3D:
    """``lut`` sampled on a ``size``³ lattice over its input domain: the 3D table that formats
    holding one table (Hald, .3dl, .spi3d) write. A 3D table of that size comes back as it is;
    anything else is approximated between lattice points."""
    if isinstance(lut, Lut3D) and lut.size == size:
        return lut
    import torch

    from lutcli.lut.lattice import identity_lut

    low, high = lut.domain_min, lut.domain_max
    lattice = identity_lut(size).double().reshape(1, 3, size * size, size)
    low_t = torch.from_numpy(low).view(1, 3, 1, 1)
    span = torch.from_numpy(high - low).view(1, 3, 1, 1)
    inputs = (low_t + lattice * span).float()
    with torch.no_grad():
        table = lut.apply_tensor(inputs).reshape(3, size, size, size)
    interp = lut.interp if isinstance(lut, Lut3D) else "trilinear"
    return Lut3D(table.numpy(), low, high, interp)


@dataclass(eq=False)
class LutFile:
    """What a LUT file holds: ``lut``, the file's ``title`` and its ``comments`` (without the
    comment marks), the ``format`` it was read from (a name in ``lutcli.lut.formats``), and
    ``notes``: what reading passed over or changed, for the user to see."""

    lut: Lut
    title: str | None = None
    comments: list[str] = field(default_factory=list)
    format: str | None = None
    notes: list[str] = field(default_factory=list)
