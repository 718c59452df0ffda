"""``lutcli export-cube``: write a model as a .cube file for other tools."""

from __future__ import annotations

from pathlib import Path

import click

from lutcli.cli.options import output_option, quiet_option
from lutcli.cli.progress import warn


@click.command("export-cube", short_help="Write a model as a .cube LUT file.")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@output_option("The .cube file to write.")
@click.option(
    "--size",
    type=click.IntRange(2, 256),
    default=None,
    help="Lattice points per axis [default: the model's LUT size].",
)
@click.option(
    "--image",
    "reference",
    type=click.Path(path_type=Path),
    default=None,
    help="For image-adaptive models: the photo whose LUT to export.",
)
@click.option(
    "--title", default=None, help="TITLE of the .cube file [default: the model's file name]."
)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@quiet_option
def export_cube(
    model_path: Path,
    output: Path,
    size: int | None,
    reference: Path | None,
    title: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Sample MODEL's color mapping on a lattice and write it as a .cube file.

    The file loads in ffmpeg (lut3d), OpenColorIO, DaVinci Resolve, Premiere, OBS and
    Photoshop, and gives the same colors as `lutcli apply --model MODEL`.

    \b
      lutcli export-cube look.pt -o look.cube
      ffmpeg -i in.mp4 -vf lut3d=look.cube out.mp4
    """
    import torch

    from lutcli.errors import LutcliError
    from lutcli.io.images import read_image
    from lutcli.io.pixels import to_tensor
    from lutcli.lut.formats.cube import write_cube
    from lutcli.lut.luts import Lut3D, LutFile
    from lutcli.models.export import sample_lut
    from lutcli.models.files import load_model

    if output.suffix.lower() != ".cube":
        raise click.BadParameter(f"'{output}' should end in .cube", param_hint="--output")
    if output.exists() and not overwrite:
        raise LutcliError(f"'{output}' exists; use --overwrite to replace it")
    model, _ = load_model(model_path)
    size = size or model.lut_size
    context = to_tensor(read_image(reference).pixels) if reference is not None else None
    table = sample_lut(model, size, context)
    if not bool(torch.isfinite(table).all()):  # finite tensors can still overflow
        raise LutcliError(f"'{model_path}' gives NaN or infinite colors: no .cube written")
    source = f"{model_path.name} ({model.name} model)"
    if reference is not None:
        source += f" for the photo {reference.name}"
    elif model.adaptive:
        source += ", its picture-independent part"
        warn(
            f"{model.name} is image-adaptive: without --image the .cube holds only its "
            "picture-independent part; add --image PHOTO for the LUT of that photo"
        )
    lut_file = LutFile(
        Lut3D(table.numpy()),
        title=title or model_path.stem,
        comments=[f"Exported by lutcli from {source}"],
    )
    write_cube(lut_file, output)
    if not quiet:
        click.echo(f"wrote {output} ({size}x{size}x{size})")
