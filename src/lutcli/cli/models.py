"""``lutcli models``: list the model zoo."""

from __future__ import annotations

import click


@click.command(short_help="List the models `lutcli train --model` can build.")
def models() -> None:
    """List the zoo models, one line each, then the settings each takes
    (`lutcli train --model NAME --model-option KEY=VALUE`)."""
    import inspect

    from lutcli.models.registry import MODELS

    width = max(len(name) for name in MODELS)
    for name, model in MODELS.items():
        if name == "multiscale":  # wraps the others: chosen with --scales, not by name
            click.echo(f"{name:<{width}}  {'wrapper':<8}  {model.description}")
            click.echo(f"{'':<{width}}  {'':<8}  use: train --model NAME --scales 2,4,8")
            continue
        kind = "adaptive" if model.adaptive else "fixed"
        click.echo(f"{name:<{width}}  {kind:<8}  {model.description}")
        settings = [
            f"{p.name}={p.default}"
            for p in inspect.signature(model.__init__).parameters.values()
            if p.name not in ("self", "lut_size")
        ]
        if settings:
            click.echo(f"{'':<{width}}  {'':<8}  options: {' '.join(settings)}")
