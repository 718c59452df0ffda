"""Looks: what ``apply``, evaluation and ``export-cube`` run, behind one interface.

A look is a LUT file or a model. For a picture it gives a LUT (``lut_for``): the same for every
picture when the look is not image-adaptive, chosen from the whole picture when it is (its
``picture_context``). ``apply`` runs that LUT over a tensor or decoded pixels, in place if asked.
Callers never need to know which kind of look they hold. A LUT file's look runs without torch,
which is loaded (a second or more) only for a model.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lutcli.io.pixels import resize_pixels, to_tensor
from lutcli.lut.formats import read_lut
from lutcli.lut.luts import Lut, Lut3D, LutFile, is_tensor
from lutcli.models import MODEL_SUFFIX

if TYPE_CHECKING:
    import torch

    from lutcli.models.base import LutModel


def picture_context(picture: np.ndarray | torch.Tensor, channel_order: str = "RGB") -> torch.Tensor:
    """(1, 3, FIXED_SIZE, FIXED_SIZE) float RGB: the whole picture as an adaptive model sees it
    (``fix_picture_size``), from a tensor or from decoded pixels in ``channel_order``.

    Pixels are first averaged over whole blocks (in their integer type) down to between 4 and
    8 times the fixed size a side, which moves the result by a fraction of a level and never
    makes a float copy of a whole photo."""
    from lutcli.models.base import FIXED_SIZE, fix_picture_size

    if is_tensor(picture):
        return fix_picture_size(picture)
    height, width = picture.shape[:2]
    most = 4 * FIXED_SIZE
    smaller = (height // max(1, height // most), width // max(1, width // most))
    context = fix_picture_size(to_tensor(resize_pixels(picture, smaller)))
    return context.flip(1) if channel_order == "BGR" else context


class Look(ABC):
    """A look; subclasses say how a picture's LUT is made (``lut_for``) and, when adaptive,
    what of the picture it is made from (``picture_context``)."""

    adaptive = False
    device: torch.device | str = "cpu"
    notes: list[str] = []  # what reading the look's file passed over, for the user
    comments: list[str] = []  # the look's file's own comments, kept when it is converted
    description = "a look"  # what it is, in a few words, for messages

    def picture_context(
        self, picture: np.ndarray | torch.Tensor, channel_order: str = "RGB"
    ) -> torch.Tensor | None:
        """What the look chooses a picture's LUT from: None for a look that is not adaptive."""
        return None

    @abstractmethod
    def lut_for(self, context: torch.Tensor | None = None, size: int | None = None) -> Lut:
        """The LUT for the picture whose ``picture_context`` is ``context``; a look that can
        make it at any lattice ``size`` (a model) makes it at that size."""

    def apply(
        self,
        image: np.ndarray | torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        channel_order: str = "RGB",
        threads: int | None = None,
        out: np.ndarray | None = None,
    ):
        """``image`` through the LUT for its picture: a (N, 3, H, W) float tensor gives a
        tensor; (H, W, 3) pixels (uint8, uint16 or float32 in [0, 1]) in ``channel_order``
        give pixels of that type, in place when ``out`` is the pixels. ``context`` is that of
        the whole picture when ``image`` is a part or a resized copy of it (default: the
        image's own)."""
        if context is None:
            context = self.picture_context(image, channel_order)
        lut = self.lut_for(context)
        return lut.apply(
            image, channel_order=channel_order, threads=threads, out=out, device=self.device
        )


class FileLook(Look):
    """The look of a LUT file: its LUT, the same for every picture."""

    def __init__(self, lut_file: LutFile, interp: str = "trilinear") -> None:
        self.lut_file = lut_file
        self.lut = lut_file.lut.with_interp(interp)
        self.notes = lut_file.notes
        self.comments = lut_file.comments
        self.description = f"{lut_file.format or 'LUT'} file"

    def lut_for(self, context: torch.Tensor | None = None, size: int | None = None) -> Lut:
        return self.lut


class ModelLook(Look):
    """The look of a model on ``device``: each picture gets the LUT the model gives it
    (``sample_lut``), an image-adaptive model choosing it from the whole picture."""

    def __init__(
        self, model: LutModel, interp: str = "trilinear", device: torch.device | str = "cpu"
    ) -> None:
        import torch

        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.model.set_interp(interp)
        self.interp = interp
        self.adaptive = model.adaptive
        self.description = f"{model.name} model"
        self._fixed = None if self.adaptive else self._sampled(None, model.lut_size)

    def picture_context(
        self, picture: np.ndarray | torch.Tensor, channel_order: str = "RGB"
    ) -> torch.Tensor | None:
        return picture_context(picture, channel_order) if self.adaptive else None

    def lut_for(self, context: torch.Tensor | None = None, size: int | None = None) -> Lut:
        """The model's LUT for the picture ``context`` (its picture-independent part without
        one), sampled on a ``size``³ lattice (default: the model's LUT size)."""
        size = size or self.model.lut_size
        if not self.adaptive and size == self.model.lut_size:
            return self._fixed
        return self._sampled(context if self.adaptive else None, size)

    def _sampled(self, context: torch.Tensor | None, size: int) -> Lut3D:
        from lutcli.models.export import sample_lut

        context = None if context is None else context.to(self.device)
        return Lut3D(sample_lut(self.model, size, context), interp=self.interp)


# The kinds of look file apply reads.
LOOK_KINDS = ("model", "lut")


def kind_of(path: str | os.PathLike) -> str:
    """The kind of look file ``path`` is, by its extension: "model" or "lut"."""
    return "model" if Path(path).suffix.lower() == MODEL_SUFFIX else "lut"


def open_look(kind: str, path: str | os.PathLike, interp: str = "trilinear", device="cpu") -> Look:
    """The look a model file (``kind`` "model") or a LUT file of any format ("lut") holds."""
    if kind == "model":
        from lutcli.models.files import load_model

        return ModelLook(load_model(path)[0], interp, device)
    if kind == "lut":
        return FileLook(read_lut(path), interp)
    raise ValueError(f"kind must be one of {LOOK_KINDS}, got {kind!r}")


@dataclass(frozen=True)
class LookFile:
    """A look as its file's bytes: what a machine that cannot see the file (a cluster's
    worker) builds the same look from. Model and LUT files are small."""

    kind: str
    name: str
    data: bytes
    interp: str

    @classmethod
    def read(cls, kind: str, path: str | os.PathLike, interp: str) -> LookFile:
        with open(path, "rb") as handle:
            return cls(kind, Path(path).name, handle.read(), interp)

    @property
    def digest(self) -> str:
        """What tells this look from any other (its kind, bytes and interpolation)."""
        key = hashlib.sha256(f"{self.kind}\0{self.interp}\0".encode())
        key.update(self.data)
        return key.hexdigest()

    def open(self, device: torch.device | str = "cpu") -> Look:
        """The look, built from a temporary copy of the file (``open_look``)."""
        with tempfile.TemporaryDirectory(prefix="lutcli-look-") as folder:
            path = Path(folder) / self.name
            path.write_bytes(self.data)
            return open_look(self.kind, path, self.interp, device)
