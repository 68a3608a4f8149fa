"""The `vipie` command line: one module per command, each a thin wrapper over library functions.

Errors the user can fix (`VipieError`) print one line on stderr and exit with
status 2; anything else is a bug and keeps its traceback.
"""

import sys

import typer

from pipeline import __version__
from pipeline.errors import VipieError

app = typer.Typer(help="vipie: information extraction from Vietnamese provincial news on digital government.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def print_version(asked: bool) -> None:
    if asked:
        print(f"vipie {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: bool = typer.Option(False, "--version", callback=print_version, is_eager=True,
                                 help="Print vipie's version and exit."),
) -> None:
    """Options given before the command: `vipie --version`."""


def main() -> None:
    # Importing a command's module registers it.
    from pipeline.cli import annotate, evaluate, extract, model, report, show, sql, stats, train  # noqa: F401

    try:
        app()
    except VipieError as exc:
        print(f"vipie: error: {exc}", file=sys.stderr)
        sys.exit(2)
