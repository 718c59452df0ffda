"""The ``lutcli`` program (and ``python -m lutcli``): signals are taken over before anything
else loads, then the command line runs, and the process leaves without finalizing the
interpreter (``signals.leave``)."""

import sys

from lutcli.cli import signals


def main() -> None:
    """Run ``lutcli`` with the arguments of the process, then exit."""
    signals.take_over()
    from lutcli.cli.main import cli

    try:
        cli.main(prog_name="lutcli")
    except SystemExit as end:  # click ends every run with one
        signals.leave(exit_status(end.code))


def exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives: None 0, an int itself; anything else is printed
    on stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    main()
