"""`vipie model promote`: make a trained model the shipped default when it is not worse on held-out gold."""

import shutil
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

import pipeline
from pipeline.cli import app
from pipeline.cli.evaluate import evaluate_model, predict
from pipeline.errors import InputError, ModelError

model_app = typer.Typer(help="Manage model folders.", no_args_is_help=True)
app.add_typer(model_app, name="model")

# A candidate may lose this much F1 to rounding and still count as not worse.
TOLERANCE = 1e-4
# The held-out writer `vipie prepare` (the DVC prepare stage) keeps aside: blind for every choice made on dev.
HELD_OUT_GOLD = Path("data/dataset/documents/test_writer.jsonl")
SEEDS_GOLD = Path("annotations/seeds/gold.jsonl")


def headline(report: dict) -> dict:
    return {"entity_micro_f1": report["entities"]["micro"]["f1-score"],
            "fact_f1": report["facts"]["fact_level"]["f1"]}


def current_report(gold: list[Path], to: Path, splits: Path | None, split: str | None) -> dict | None:
    """The evaluation report of the current default, or None when there is none or it cannot be loaded any more (a
    corrupt folder, or one written by an older vipie): such a default is replaced, with the reason printed."""
    if not (to / "config.cfg").is_file():
        return None
    try:
        return evaluate_model(gold, None, to, False, splits, split)
    except ModelError as exc:
        print(f"current default unusable, replacing it: {exc}")
        return None


def comparison_rows(new: dict, old: dict | None) -> list[tuple[str, float | None, float]]:
    """(row, current F1 or None, candidate F1) for each entity label of either report, micro-F1 and fact F1."""
    def per_label(report):
        return {label: s["f1-score"] for label, s in report["entities"]["per_label"].items()} if report else {}

    before, after = per_label(old), per_label(new)
    labels = [*after, *(label for label in before if label not in after)]
    rows = [(label, before.get(label), after.get(label, 0.0)) for label in labels]
    old_headline, new_headline = headline(old) if old else {}, headline(new)
    return rows + [(name, old_headline.get(key), new_headline[key]) for name, key in
                   (("entities micro", "entity_micro_f1"), ("facts", "fact_f1"))]


def print_comparison(rows: list[tuple[str, float | None, float]], where: str) -> None:
    table = Table(title=f"F1 on {where}: current default → candidate")
    for column in ("", "current", "candidate", "change"):
        table.add_column(column, justify="left" if not column else "right")
    for name, before, after in rows:
        change = "" if before is None else f"{after - before:+.3f}"
        table.add_row(name, "—" if before is None else f"{before:.3f}", f"{after:.3f}", change)
    Console().print(table)


def check_against_rules(candidate: Path, seeds_gold: Path) -> None:
    """Say loudly, on stderr, when the candidate's entity micro-F1 on the seeds (real articles) is below the rule
    recognizer's alone: a learned model that loses to its own features on real text is suspect, whatever the
    held-out writer says."""
    from pipeline.document import read_gold_documents
    from pipeline.evaluate import evaluate
    from pipeline.model import build_pipeline

    gold = list(read_gold_documents(seeds_gold))
    rules = evaluate(gold, predict(build_pipeline("rules"), gold, False))["entities"]["micro"]["f1-score"]
    model = evaluate(gold, predict(pipeline.load(candidate), gold, False))["entities"]["micro"]["f1-score"]
    print(f"seeds ({seeds_gold}): candidate entity micro-F1 {model:.3f}, rules alone {rules:.3f}")
    if model < rules - TOLERANCE:
        Console(stderr=True).print(f"[bold red]WARNING: the candidate is BELOW RULES ALONE on the seeds: entity "
                                   f"micro-F1 {model:.3f} < {rules:.3f}[/]", highlight=False, soft_wrap=True)


@model_app.command()
def promote(
    candidate: Path = typer.Argument(..., help="A model folder made by `vipie train`."),
    gold: list[Path] = typer.Option([], "--gold", help="Gold documents both models are scored on; repeatable "
                                    f"(default: the held-out writer, {HELD_OUT_GOLD})."),
    splits: Path | None = typer.Option(None, "--splits", help="A splits file, to score one split of --gold."),
    split: str | None = typer.Option(None, "--split", help="The split to score (e.g. test_writer)."),
    seeds_gold: Path = typer.Option(SEEDS_GOLD, "--seeds-gold", help="Real articles on which the candidate is "
                                    "compared with the rules alone (a warning, not a veto)."),
    to: Path = typer.Option(pipeline.DEFAULT_MODEL, "--to", help="Where the default lives."),
    force: bool = typer.Option(False, "--force", help="Promote even when the candidate is worse."),
) -> None:
    """Copy CANDIDATE to the default model folder, with its card, if its scores on held-out gold are not worse;
    print both models' F1 per label, and warn when the candidate is below the rules alone on the seeds."""
    from pipeline.model import read_card, write_card

    if not gold:
        if not HELD_OUT_GOLD.is_file():
            raise InputError(f"{HELD_OUT_GOLD}: no held-out gold to decide on; build it with `make repro` "
                             "(the DVC prepare stage) or give --gold FILE")
        gold = [HELD_OUT_GOLD]
    new_report = evaluate_model(gold, None, candidate, False, splits, split)
    old_report = current_report(gold, to, splits, split)
    new, old = headline(new_report), headline(old_report) if old_report else None
    where = ", ".join(map(str, gold)) + (f" ({split})" if split else "")
    print_comparison(comparison_rows(new_report, old_report), where)
    if seeds_gold.is_file():
        check_against_rules(candidate, seeds_gold)
    else:
        print(f"vipie: warning: {seeds_gold}: no seeds gold, so the candidate is not compared with the rules alone",
              file=sys.stderr)
    worse = [k for k in new if old and new[k] < old[k] - TOLERANCE]
    if worse and not force:
        raise ModelError(f"{candidate}: not promoted, worse than {to} on {', '.join(worse)}; use --force to override")
    card = read_card(candidate)
    if to.exists():
        shutil.rmtree(to)
    shutil.copytree(candidate, to)
    write_card(to, {**{k: v for k, v in card.items() if k != "vipie_version"}, "promoted_from": str(candidate),
                    "promotion_gold": [str(path) for path in gold], "promotion_scores": new})
    print(f"promoted {candidate} to {to}")
