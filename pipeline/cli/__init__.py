"""The `vipie` command line: one module per command, each a thin wrapper over library functions.

Errors the user can fix (`VipieError`) print one line on stderr and exit with
status 2; anything else is a bug and keeps its traceback.
"""

import sys

import typer

from pipeline.errors import VipieError

app = typer.Typer(help="vipie: information extraction from Vietnamese provincial news on digital government.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def main() -> None:
    from pipeline.cli import annotate, evaluate, extract, model, stats, train  # noqa: F401  (registers the commands)

    try:
        app()
    except VipieError as exc:
        print(f"vipie: error: {exc}", file=sys.stderr)
        sys.exit(2)
