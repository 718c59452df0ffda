"""The ``lutcli`` program (and ``python -m lutcli``): signals are taken over before anything
else loads, then the command line runs."""

from lutcli.cli import signals


def main() -> None:
    """Run ``lutcli`` with the arguments of the process, then exit."""
    signals.take_over()
    from lutcli.cli.main import cli

    cli.main(prog_name="lutcli")


if __name__ == "__main__":
    main()
