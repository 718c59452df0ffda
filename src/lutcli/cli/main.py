"""The ``lutcli`` group: version, subcommands, and turning user errors into one line."""

from __future__ import annotations

import functools
import os
import signal
import sys

import click

from lutcli import __version__
from lutcli.cli import signals
from lutcli.cli.apply import apply
from lutcli.cli.distill import distill
from lutcli.cli.export_cube import export_cube
from lutcli.cli.info import info
from lutcli.cli.models import models
from lutcli.cli.presets import presets
from lutcli.cli.train import train
from lutcli.errors import (
    LutcliError,
    is_out_of_memory,
    os_error_message,
    out_of_memory_reason,
)


def start_up() -> None:
    """What a command does before its work: silence OpenCV's own logging on stderr (the process
    is lutcli's, and the one line it prints about a file OpenCV cannot decode is what the user
    is to read). Not at import, so that `lutcli --help` stays instant. torch is not loaded
    here: the commands that compute with it load it as they start (a second or more), and
    applying a LUT file never does."""
    from lutcli.io.images import silence_opencv_log

    silence_opencv_log()


class LutcliGroup(click.Group):
    """A group whose commands report user errors as one line on stderr, never a traceback:
    errors of the input, of the system (disk full, read-only, out of memory) and
    interruptions (exit 128 + the signal's number)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Add ``cmd``, whose run (not its --help) starts up, then works: see ``start_up``."""
        work = cmd.callback

        @functools.wraps(work)
        def start_then_work(*args, **kwargs):
            start_up()
            with signals.at_work():
                return work(*args, **kwargs)

        cmd.callback = start_then_work
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LutcliError as error:
            raise click.ClickException(str(error)) from None
        except BrokenPipeError:  # `lutcli presets | head -1`: the reader has all it wants
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
            sys.exit(128 + signal.SIGPIPE)
        except OSError as error:
            raise click.ClickException(os_error_message(error)) from None
        except (MemoryError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise  # a bug: its traceback is what a report needs
            reason = out_of_memory_reason(error)
            command = f"lutcli {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "lutcli"
            raise click.ClickException(
                f"out of memory while running {command}{f' ({reason})' if reason else ''}"
            ) from None
        except KeyboardInterrupt as error:
            signals.exit_interrupted(getattr(error, "signal_number", signal.SIGINT))


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
      lutcli info film.3dl                          what a LUT or model file is
    """


for command in (train, distill, apply, export_cube, info, models, presets):
    cli.add_command(command)
