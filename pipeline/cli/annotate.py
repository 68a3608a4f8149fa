"""`vipie annotate`: the annotators' loop through Label Studio (config, export, import, agree, next, serve-model,
add-annotator)."""

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
    export_file: Path = typer.Argument(..., metavar="EXPORT.json",
                                       help="A Label Studio JSON export (the file the browser downloads, any name)."),
    out: Path = typer.Option(..., "--out", "-o", help="Gold documents, a .jsonl file."),
    annotator: str | None = typer.Option(None, "--annotator", help="Only annotations by this user (id or email)."),
) -> None:
    """Turn a Label Studio JSON export into gold documents, task by task.

    Every task is reported: imported, or left out with one line per problem. The good tasks are written;
    the exit status is 0 when every task was imported, 1 when some were left out, 2 when none could be.
    """
    from pipeline.annotate.gold import import_export, read_export, write_gold
    from pipeline.provinces import default_resolver

    tasks = read_export(export_file)
    report = import_export(tasks, default_resolver(), str(export_file), annotator)
    for document in report.documents:
        print(f"vipie: imported {document['id']}: {len(document['entities'])} entities, "
              f"{len(document['facts'])} facts", file=sys.stderr)
    for _, _, problems in report.rejected:
        for problem in problems:
            print(f"vipie: error: {problem}", file=sys.stderr)
    if not report.documents:
        print(f"vipie: error: {export_file}: no task could be imported ({len(tasks)} in the export); "
              f"nothing written", file=sys.stderr)
        raise typer.Exit(2)
    write_gold(report.documents, out)
    print(f"vipie: wrote {len(report.documents)} gold documents, {sum(len(d['entities']) for d in report.documents)} "
          f"entities, {sum(len(d['facts']) for d in report.documents)} facts to {out}", file=sys.stderr)
    if report.rejected:
        left_out = ", ".join(f"task {task_id}" + (f" (doc {doc_id})" if doc_id else "")
                             for task_id, doc_id, _ in report.rejected)
        print(f"vipie: left out {len(report.rejected)} of {len(tasks)} tasks: {left_out}; fix them in Label Studio "
              f"and export again", file=sys.stderr)
        raise typer.Exit(1)


@annotate_app.command("next")
def next_(
    tasks_file: Path = typer.Argument(..., metavar="TASKS.json", help="Tasks written by `vipie annotate export`."),
    top: int = typer.Option(0, "--top", min=0, help="Only the first N (0: all)."),
) -> None:
    """Print the tasks in "annotate next" order: the documents the model is least sure of first."""
    from pipeline.annotate.config import DOC_ID
    from pipeline.annotate.tasks import UNCERTAINTY, ranked, read_tasks

    order = ranked(read_tasks(tasks_file))
    for task in order[:top or None]:
        print(f"{task['data'][UNCERTAINTY]:.4f}\t{task['data'][DOC_ID]}")


@annotate_app.command("serve-model")
def serve_model(
    model: Path | None = typer.Option(None, "--model", "-m", help="Model folder; default: the shipped models/default."),
    port: int = typer.Option(9090, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
) -> None:
    """Serve the model as a Label Studio ML backend on 127.0.0.1 (health, setup, predict); Ctrl-C stops it."""
    import pipeline
    from pipeline.annotate.ml_backend import make_server
    from pipeline.annotate.tasks import model_version
    from pipeline.errors import LabelStudioError

    nlp = pipeline.load(model)
    version = model_version(nlp)
    try:
        server = make_server(nlp, version, port)
    except OSError as exc:
        raise LabelStudioError(f"127.0.0.1:{port}: cannot listen ({exc.strerror}); pass another --port") from exc
    host, bound = server.server_address[:2]
    print(f"vipie: ML backend {version} on http://{host}:{bound} (in Label Studio: project Settings → Model → "
          f"Connect Model, or scripts/label_studio.py --ml-backend http://{host}:{bound}); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@annotate_app.command("add-annotator")
def add_annotator(
    email: str = typer.Argument(..., help="The new annotator's email (their login)."),
    url: str = typer.Option("http://127.0.0.1:8080", "--url", help="The running Label Studio."),
    data_dir: Path = typer.Option(Path(".label-studio"), "--data-dir",
                                  help="Its data folder (holds the admin login scripts/label_studio.py made)."),
) -> None:
    """Create an annotator account on the running Label Studio; prints the login to hand over."""
    import secrets

    from pipeline.annotate.server import LabelStudio, add_annotator as sign_up, read_login

    password = secrets.token_urlsafe(12)
    sign_up(LabelStudio(url=url.rstrip("/"), token=read_login(data_dir)["token"]), email, password)
    print(f"{email} / {password}  (log in at {url.rstrip('/')})")


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
