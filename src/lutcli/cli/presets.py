"""``lutcli presets``: the named looks that ``apply --requirement NAME`` runs."""

from __future__ import annotations

import click


@click.command(short_help="List the named looks for apply --requirement.")
def presets() -> None:
    """List the presets: name, kind and a line of description.

    Shipped presets come with lutcli (the repository's presets/, rebuilt by `make presets` from
    presets/looks.json); your own LUT files (.cube, Hald .png, .3dl, ...) or model files go in
    a folder named by the environment variable LUTCLI_PRESETS (several folders separated by
    ':'), and win over shipped ones of the same name. A preset that cannot be read is listed as
    broken, with the reason, after which the exit status is 1.
    """
    from lutcli.errors import LutcliError
    from lutcli.presets import find_presets, preset_folders

    found = find_presets()
    if not found:
        folders = ", ".join(str(f) for f in preset_folders())
        raise click.ClickException(f"no presets in {folders} (run `make presets`)")
    width = max(len(name) for name in found)
    broken = []
    for name, preset in found.items():
        kind = "model" if preset.is_model else preset.path.suffix.lower()
        try:
            description = preset.description()
        except LutcliError as error:
            broken.append(name)
            description = "BROKEN: " + " ".join(str(error).split())
        click.echo(f"{name:<{width}}  {kind:<6}  {description}")
    if broken:
        raise click.ClickException(f"{len(broken)} preset(s) cannot be read: {', '.join(broken)}")
