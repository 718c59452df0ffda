"""Fast kernels behind ``lutcli.lut.interpolate.apply_lut`` and ``lutcli apply``.

``cpu`` wraps the C extension built at install time (``native.c``); ``cuda`` holds the GPU
kernel. Each says whether it can run, and ``apply_lut`` falls back to its torch reference
where neither can.
"""

INTERPOLATIONS = ("trilinear", "tetrahedral")


def is_tetrahedral(interp: str) -> bool:
    """The kernels' flag for ``interp``; ValueError for a name not in INTERPOLATIONS."""
    if interp not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interp!r}; choose one of {INTERPOLATIONS}")
    return interp == "tetrahedral"
