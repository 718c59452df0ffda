"""What the product-bar tests share (``pythonpath`` in pyproject.toml puts tests/ on the import
path): the sample photos split into those to learn from and those kept unseen, and the bar."""

from __future__ import annotations

import numpy as np

from lutcli.samples import sample_photos

# Photos that training never sees; the look is measured on them.
UNSEEN = ("china", "coffee", "motorcycle")
# The worst PSNR on an unseen photo that a learned look may have.
PRODUCT_BAR_DB = 40.0


def split_photos() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The ten sample photos as (seven to learn from, the three UNSEEN ones)."""
    photos = sample_photos()
    assert len(photos) == 10 and set(UNSEEN) <= set(photos)
    seen = {name: pixels for name, pixels in photos.items() if name not in UNSEEN}
    return seen, {name: photos[name] for name in UNSEEN}
