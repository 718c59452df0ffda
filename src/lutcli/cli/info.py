"""``lutcli info``: what a LUT file, a model file or a clip is, as a table."""

from __future__ import annotations

import json
from pathlib import Path

import click

# Comments shown at most (a file may hold many).
SHOWN_COMMENTS = 5
# Characters of an info value shown at most (lists of thousands of pair names).
SHOWN_CHARACTERS = 200


@click.command(short_help="Show what a LUT file, a model file or a clip is.")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
def info(path: Path) -> None:
    """Show what FILE is, as a table: for a LUT file (any format lutcli reads) its format, the
    tables it holds (kind, size, input domain), title and comments; for a model file its zoo
    name, options and what it was trained on; for a clip its video (codec, size, frames, bit
    depth, colour tags) and other streams, as `apply` will keep them.

    \b
      lutcli info film.cube
      lutcli info look.pt
      lutcli info clip.mov
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lutcli.io.folders import is_clip_path
    from lutcli.looks import kind_of

    if is_clip_path(path):
        rows = _clip_rows(path)
    else:
        rows = _model_rows(path) if kind_of(path) == "model" else _lut_rows(path)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, escape(value))  # file text is text, not markup
    Console(soft_wrap=False).print(table)


def _lut_rows(path: Path) -> list[tuple[str, str]]:
    from lutcli.lut.formats import FORMATS, read_lut
    from lutcli.lut.luts import Lut1D, describe, tables

    lut_file = read_lut(path)
    rows = [("file", str(path)), ("format", FORMATS[lut_file.format].description)]
    parts = tables(lut_file.lut)
    for index, table in enumerate(parts, 1):
        kind = "shaper " if isinstance(table, Lut1D) and len(parts) > 1 else ""
        low, high = _numbers(table.domain_min), _numbers(table.domain_max)
        rows.append((f"table {index}" if len(parts) > 1 else "table", kind + describe(table)))
        rows.append(("  domain", f"{low} .. {high}"))
    if lut_file.title is not None:
        rows.append(("title", lut_file.title))
    comments = lut_file.comments
    for comment in comments[:SHOWN_COMMENTS]:
        rows.append(("comment", comment))
    if len(comments) > SHOWN_COMMENTS:
        rows.append(("", f"and {len(comments) - SHOWN_COMMENTS} more comments"))
    rows += [("note", note) for note in lut_file.notes]
    return rows


def _model_rows(path: Path) -> list[tuple[str, str]]:
    from lutcli.models.base import FIXED_SIZE
    from lutcli.models.files import load_model

    model, provenance = load_model(path)
    rows = [
        ("file", str(path)),
        ("format", "lutcli model"),
        ("model", f"{model.name} ({'image-adaptive' if model.adaptive else 'one LUT'})"),
        ("LUT size", f"{model.lut_size}x{model.lut_size}x{model.lut_size}"),
    ]
    if model.scales:
        side = FIXED_SIZE // max(model.scales)
        scales = ", ".join(map(str, model.scales))
        rows.append(("trained at scales", f"{scales} (chooses its LUT at {side}x{side})"))
    options = {k: v for k, v in model.config().items() if k != "lut_size"}
    rows += [(f"option {key}", _shown(value)) for key, value in options.items()]
    rows.append(("parameters", f"{sum(p.numel() for p in model.parameters()):,}"))
    for key, value in provenance.items():
        if isinstance(value, list):
            rows.append((key, f"{len(value)}: {_shown(value)}"))
        else:
            rows.append((key, _shown(value)))
    return rows


def _clip_rows(path: Path) -> list[tuple[str, str]]:
    from lutcli.io.video import color_names, probe

    clip = probe(path)
    rate = f"{float(clip.frame_rate):.3f}".rstrip("0").rstrip(".") if clip.frame_rate else "?"
    rows = [
        ("file", str(path)),
        ("format", "clip"),
        ("video", f"{clip.codec}, {clip.width}x{clip.height}, {rate} frames/s"),
        ("frames", str(clip.frames)),
        ("pixels", f"{clip.pixel_format} ({clip.bit_depth}-bit)"),
    ]
    rows += [(f"  {name}", value) for name, value in color_names(clip).items()]
    others = ", ".join(f"{count} {kind}" for kind, count in sorted(clip.streams.items()))
    rows.append(("other streams", others or "none"))
    return rows


def _numbers(values) -> str:
    """Three domain bounds, or one when all channels share it."""
    shown = [f"{float(v):g}" for v in values]
    return shown[0] if len(set(shown)) == 1 else " ".join(shown)


def _shown(value: object) -> str:
    """A JSON-able value as text, cut to SHOWN_CHARACTERS."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."
