"""`vipie annotate`: the annotators' loop through Label Studio (config, export, import, agree)."""

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli import app
from pipeline.document import DEFAULT_MAX_CHARS
from pipeline.errors import AnnotationError

annotate_app = typer.Typer(help="Label Studio round trip: labeling config, tasks with predictions, gold, agreement.",
                           no_args_is_help=True)
app.add_typer(annotate_app, name="annotate")


def fail(exc: AnnotationError) -> None:
    """Print every problem on its own line and exit with status 2, like any `VipieError`."""
    for problem in exc.problems:
        print(f"vipie: error: {problem}", file=sys.stderr)
    raise typer.Exit(2)


@annotate_app.command()
def config(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the XML here instead of printing it."),
) -> None:
    """Print the Label Studio labeling config, generated from pipeline.labels."""
    from pipeline.annotate.config import labeling_config
    from pipeline.provinces import default_resolver

    xml = labeling_config(default_resolver().canonical_names)
    if out is None:
        sys.stdout.write(xml)
    else:
        out.write_text(xml, encoding="utf-8")


@annotate_app.command()
def export(
    inputs: list[Path] = typer.Argument(..., help=".txt files, .jsonl files or folders, as for extract."),
    out: Path = typer.Option(..., "--out", "-o", help="Label Studio tasks, a .json file."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model folder; default: the shipped models/default."),
    max_chars: int = typer.Option(DEFAULT_MAX_CHARS, "--max-chars", min=1, help="Reject longer documents."),
) -> None:
    """Run the pipeline and write Label Studio tasks whose predictions annotators correct."""
    import pipeline
    from pipeline.annotate.tasks import export_tasks, write_tasks

    nlp = pipeline.load(model)

    def report(record: dict) -> None:
        print(f"vipie: rejected {record['id']} (no task written): {'; '.join(record['errors'])}", file=sys.stderr)

    try:
        count = write_tasks(export_tasks(nlp, inputs, max_chars, on_rejected=report), out)
    except AnnotationError as exc:
        fail(exc)
    print(f"vipie: wrote {count} tasks to {out}", file=sys.stderr)


@annotate_app.command("import")
def import_(
    export_file: Path = typer.Argument(..., metavar="EXPORT.json", help="A Label Studio JSON export."),
    out: Path = typer.Option(..., "--out", "-o", help="Gold documents, a .jsonl file."),
    annotator: str | None = typer.Option(None, "--annotator", help="Only annotations by this user (id or email)."),
) -> None:
    """Turn a Label Studio JSON export into gold documents; any problem is an error and writes nothing."""
    from pipeline.annotate.gold import gold_from_export, read_export, write_gold
    from pipeline.provinces import default_resolver

    try:
        documents = gold_from_export(read_export(export_file), default_resolver(), str(export_file), annotator)
    except AnnotationError as exc:
        fail(exc)
    write_gold(documents, out)
    print(f"vipie: wrote {len(documents)} gold documents, {sum(len(d['entities']) for d in documents)} entities, "
          f"{sum(len(d['facts']) for d in documents)} facts to {out}", file=sys.stderr)


@annotate_app.command()
def agree(
    a: Path = typer.Argument(..., help="Annotations A: a Label Studio export (.json) or a gold file (.jsonl)."),
    b: Path = typer.Argument(..., help="Annotations B, the same kinds."),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
    annotator_a: str | None = typer.Option(None, "--annotator-a", help="In export A, only this user's annotations."),
    annotator_b: str | None = typer.Option(None, "--annotator-b", help="In export B, only this user's annotations."),
) -> None:
    """Inter-annotator agreement: span F1 per label (exact, overlap) and fact attribute accuracy."""
    from pipeline.annotate.agree import agreement, read_annotations
    from pipeline.provinces import default_resolver

    resolver = default_resolver()
    try:
        result = agreement(read_annotations(a, resolver, annotator_a), read_annotations(b, resolver, annotator_b))
    except AnnotationError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_agreement(result, Console())


def percent(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def print_agreement(result: dict, console: Console) -> None:
    console.print(f"{result['documents']} documents in both"
                  + (f"; only in A: {', '.join(result['only_in_a'])}" if result["only_in_a"] else "")
                  + (f"; only in B: {', '.join(result['only_in_b'])}" if result["only_in_b"] else ""))
    table = Table(title="spans: F1 (precision / recall) of B against A, in %")
    for column in ("label", "A", "B", "exact F1", "exact P / R", "overlap F1", "overlap P / R"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, row in result["spans"].items():
        exact, overlap = row["exact"], row["overlap"]
        table.add_row(label, str(row["a"]), str(row["b"]), percent(exact["f1"]),
                      f"{percent(exact['precision'])} / {percent(exact['recall'])}", percent(overlap["f1"]),
                      f"{percent(overlap['precision'])} / {percent(overlap['recall'])}")
    console.print(table)
    facts = result["facts"]
    console.print(f"facts: on the {facts['matched_metrics']} METRICs with the same span in A and B")
    table = Table(title="attributes that agree, in %")
    table.add_column("attribute")
    table.add_column("agree", justify="right")
    for name, accuracy in facts["accuracy"].items():
        table.add_row(name, percent(accuracy))
    spans = facts.get("indicator_span") or {}
    if spans.get("facts"):
        table.add_row(f"indicator span, exact ({spans['facts']})", percent(spans["exact"]))
        table.add_row(f"indicator span, token F1 ({spans['facts']})", percent(spans["token_f1"]))
    console.print(table)
