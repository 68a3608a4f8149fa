"""`vipie model promote`: make a trained model the shipped default when it is not worse."""

import shutil
from pathlib import Path

import typer

import pipeline
from pipeline.cli import app
from pipeline.cli.evaluate import evaluate_model
from pipeline.errors import ModelError

model_app = typer.Typer(help="Manage model folders.", no_args_is_help=True)
app.add_typer(model_app, name="model")

# A candidate may lose this much F1 to rounding and still count as not worse.
TOLERANCE = 1e-4


def headline(report: dict) -> dict:
    return {"entity_micro_f1": report["entities"]["micro"]["f1-score"],
            "fact_f1": report["facts"]["fact_level"]["f1"]}


def current_scores(gold: list[Path], to: Path, splits: Path | None, split: str | None) -> dict | None:
    """The headline scores of the current default, or None when there is none or it cannot be loaded any more (a
    corrupt folder, or one written by an older vipie): such a default is replaced, with the reason printed."""
    if not (to / "config.cfg").is_file():
        return None
    try:
        return headline(evaluate_model(gold, None, to, False, splits, split))
    except ModelError as exc:
        print(f"current default unusable, replacing it: {exc}")
        return None


@model_app.command()
def promote(
    candidate: Path = typer.Argument(..., help="A model folder made by `vipie train`."),
    gold: list[Path] = typer.Option(..., "--gold", help="Gold documents both models are scored on; repeatable."),
    splits: Path | None = typer.Option(None, "--splits", help="A splits file, to score one split of --gold."),
    split: str | None = typer.Option(None, "--split", help="The split to score (e.g. dev)."),
    to: Path = typer.Option(pipeline.DEFAULT_MODEL, "--to", help="Where the default lives."),
    force: bool = typer.Option(False, "--force", help="Promote even when the candidate is worse."),
) -> None:
    """Copy CANDIDATE to the default model folder, with its card, if its scores are not worse."""
    from pipeline.model import read_card, write_card

    new = headline(evaluate_model(gold, None, candidate, False, splits, split))
    old = current_scores(gold, to, splits, split)
    worse = [k for k in new if old and new[k] < old[k] - TOLERANCE]
    print(f"candidate {new}; current {old}")
    if worse and not force:
        raise ModelError(f"{candidate}: not promoted, worse than {to} on {', '.join(worse)}; use --force to override")
    card = read_card(candidate)
    if to.exists():
        shutil.rmtree(to)
    shutil.copytree(candidate, to)
    write_card(to, {**{k: v for k, v in card.items() if k not in ("labels", "vipie_version")},
                    "promoted_from": str(candidate), "promotion_scores": new})
    print(f"promoted {candidate} to {to}")
