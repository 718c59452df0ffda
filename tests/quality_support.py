"""What the product-bar tests share (``pythonpath`` in pyproject.toml puts tests/ on the import
path): the bars a learned global look must clear on photos it never saw."""

from __future__ import annotations

# The product bar (SPEC §5): the worst PSNR on an unseen photo that a learned look may have.
PRODUCT_BAR_DB = 40.0
# What the README's tables show and the tests hold: a global look learned or distilled from
# seven photos reaches the 33³ lattice's own interpolation limit (51-53 dB on these photos).
LATTICE_LIMIT_DB = 50.0
