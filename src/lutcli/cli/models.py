"""``lutcli models``: list the model zoo."""

from __future__ import annotations

import click


@click.command(short_help="List the models `lutcli train --model` can build.")
def models() -> None:
    """List the zoo models, one line each."""
    from lutcli.models.registry import MODELS

    width = max(len(name) for name in MODELS)
    for name, model in MODELS.items():
        click.echo(f"{name:<{width}}  {model.description}")
