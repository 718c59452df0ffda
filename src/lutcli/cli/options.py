"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar or summary; errors still go to stderr."
)
device_option = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to compute: auto picks a CUDA GPU when there is one.",
)
interp_option = click.option(
    "--interp",
    type=click.Choice(["trilinear", "tetrahedral"]),
    default="trilinear",
    show_default=True,
    help="How LUTs are interpolated between lattice points.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace outputs that already exist (inputs never)."
)


def output_option(what: str) -> Callable:
    """The required ``-o/--output`` path of a command that writes one file (``what`` it is)."""
    return click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help=what)
