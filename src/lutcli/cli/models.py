"""``lutcli models``: list the model zoo, and multi-scale training, which applies to any."""

from __future__ import annotations

import click


@click.command(short_help="List the models `lutcli train --model` can build.")
def models() -> None:
    """List the zoo models, one line each, then the settings each takes
    (`lutcli train --model NAME --model-option KEY=VALUE`); last, multi-scale training, which
    any of them takes (`--scales`)."""
    import inspect

    from lutcli.models.registry import MODELS

    width = max(len(name) for name in MODELS)

    def row(name: str, kind: str, text: str) -> None:
        click.echo(f"{name:<{width}}  {kind:<8}  {text}")

    for name, model in MODELS.items():
        row(name, "adaptive" if model.adaptive else "fixed", model.description)
        settings = [
            f"{p.name}={p.default}"
            for p in inspect.signature(model.__init__).parameters.values()
            if p.name not in ("self", "lut_size")
        ]
        if settings:
            row("", "", f"options: {' '.join(settings)}")
    row("multi-scale", "training", "any model above, trained on a pyramid: same colors at any size")
    row("", "", "use: train --model NAME --scales 2,4,8")
