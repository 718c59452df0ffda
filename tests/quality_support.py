"""What the product-bar tests share (``pythonpath`` in pyproject.toml puts tests/ on the import
path): the bar a learned global look must clear on photos it never saw."""

from __future__ import annotations

# The worst PSNR on an unseen photo that a learned look may have.
PRODUCT_BAR_DB = 40.0
