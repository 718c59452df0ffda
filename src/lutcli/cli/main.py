"""The ``lutcli`` group: version, subcommands, and turning user errors into one line."""

from __future__ import annotations

import sys

import click

from lutcli import __version__
from lutcli.cli.apply import apply
from lutcli.cli.distill import distill
from lutcli.cli.export_cube import export_cube
from lutcli.cli.models import models
from lutcli.cli.presets import presets
from lutcli.cli.train import train
from lutcli.errors import LutcliError


class LutcliGroup(click.Group):
    """A group whose commands report user errors as one line on stderr, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LutcliError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            where = f" '{error.filename}'" if error.filename else ""
            raise click.ClickException(f"{error.strerror or error}{where}") from None
        except KeyboardInterrupt:
            click.echo("lutcli: interrupted", err=True)
            sys.exit(130)


@click.group(cls=LutcliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lutcli")
def cli() -> None:
    """Learn a photo look as a 3D LUT, apply it to folders fast, export it as .cube.

    \b
      lutcli train pairs/ -o look.pt               learn from pairs/input + pairs/target
      lutcli distill photos/ -o look.pt --teacher 'cmd:...'   reproduce a slow filter
      lutcli apply photos/ out/ --model look.pt
      lutcli apply photos/ out/ --requirement auto  a shipped look (lutcli presets)
      lutcli export-cube look.pt -o look.cube       for ffmpeg, Resolve, OCIO, Photoshop
    """


for command in (train, distill, apply, export_cube, models, presets):
    cli.add_command(command)
