"""The `vipie` command line: one module per command, each a thin wrapper over library functions.

Errors the user can fix (`VipieError`) print one line on stderr and exit with
status 2; anything else is a bug and keeps its traceback.
"""

import atexit
import os
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
    except SystemExit as exc:
        if exc.code in (0, None) and sys.argv[1:2] == ["extract"] and "ray" not in sys.modules:
            leave_without_teardown()
        raise


def leave_without_teardown() -> None:
    """End a finished local `vipie extract` now. Its outputs are closed and its workers have exited; what is left
    is the interpreter freeing the loaded models object by object, about a third of a second, a fifth of the whole
    process on one article. The exit handlers still run and the standard streams are flushed. A Ray run (its
    driver has finalizers of its own) and any failure take the normal way out."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
