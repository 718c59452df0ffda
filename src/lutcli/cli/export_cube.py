"""``lutcli export-cube``: write a look as a LUT file for other tools."""

from __future__ import annotations

from pathlib import Path

import click

from lutcli.cli.options import output_option, quiet_option
from lutcli.cli.progress import warn

# The format names --format takes (lutcli.lut.formats.FORMATS; listed here so that --help
# needs no import of the LUT layer).
FORMAT_NAMES = ("cube", "hald", "3dl", "spi3d", "spi1d", "csp")


@click.command("export-cube", short_help="Write a model or a LUT as a .cube (or other) LUT file.")
@click.argument("look_path", metavar="LOOK", type=click.Path(path_type=Path))
@output_option(
    "The LUT file to write; its extension chooses the format: .cube, .png/.tif (Hald CLUT), "
    ".3dl, .spi3d, .spi1d, .csp."
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(FORMAT_NAMES),
    default=None,
    help="Write this format whatever the extension of OUTPUT.",
)
@click.option(
    "--size",
    type=click.IntRange(2, 256),
    default=None,
    help="Lattice points per axis [default: the look's own LUT size].",
)
@click.option(
    "--image",
    "reference",
    type=click.Path(path_type=Path),
    default=None,
    help="For image-adaptive models: the photo whose LUT to export.",
)
@click.option("--title", default=None, help="Title of the LUT file [default: LOOK's file name].")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@quiet_option
def export_cube(
    look_path: Path,
    output: Path,
    format_name: str | None,
    size: int | None,
    reference: Path | None,
    title: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Write LOOK (a model file, or a LUT file of any format lutcli reads) as a LUT file.

    A model's color mapping is sampled on a lattice; a LUT file is converted. The file loads in
    ffmpeg (lut3d, haldclut), OpenColorIO, DaVinci Resolve, Premiere, OBS and Photoshop, and
    gives the same colors as `lutcli apply` with LOOK.

    \b
      lutcli export-cube look.pt -o look.cube
      lutcli export-cube look.pt -o look.png          # a Hald CLUT image
      lutcli export-cube film.cube -o film.3dl        # conversion
      ffmpeg -i in.mp4 -vf lut3d=look.cube out.mp4
    """
    import numpy as np

    from lutcli.errors import LutcliError
    from lutcli.io.images import read_image
    from lutcli.looks import kind_of, open_look
    from lutcli.lut.formats import write_lut
    from lutcli.lut.luts import LutFile, bake, describe, tables

    if output.exists() and not overwrite:
        raise LutcliError(f"'{output}' exists; use --overwrite to replace it")
    look = open_look(kind_of(look_path), look_path)
    for note in look.notes:
        warn(note)
    context = None
    if reference is not None:
        context = look.picture_context(read_image(reference).pixels)
    lut = look.lut_for(context, size)
    if size is not None:
        lut = bake(lut, size)
    if not all(np.isfinite(table.table).all() for table in tables(lut)):
        raise LutcliError(f"'{look_path}' gives NaN or infinite colors: nothing written")
    source = f"{look_path.name} ({look.description})"
    if reference is not None:
        source += f" for the photo {reference.name}"
    elif look.adaptive:
        source += ", its picture-independent part"
        warn(
            f"{look.description} is image-adaptive: without --image the LUT file holds only "
            "its picture-independent part; add --image PHOTO for the LUT of that photo"
        )
    comments = [*look.comments, f"Exported by lutcli from {source}"]
    lut_file = LutFile(lut, title=title or look_path.stem, comments=comments)
    written = write_lut(lut_file, output, format_name)
    if not quiet:  # what the file holds: a format may have resampled the LUT (a Hald level)
        held = describe(written.read(output).lut)
        kind = "" if written.name == "cube" else f"{written.name}, "
        click.echo(f"wrote {output} ({kind}{held})")
