"""`vipie evaluate`: predictions or a model against gold documents."""

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.cli import app
from pipeline.errors import InputError


def predict(nlp, gold: list[dict], oracle: bool) -> list[dict]:
    """Records a loaded pipeline predicts for the gold documents; with `oracle`, linking gold entity spans."""
    import pipeline
    from pipeline.document import Document
    from pipeline.evaluate import predict_with_gold_entities
    from pipeline.extract import to_record

    records = []
    for doc in gold:
        document = Document(doc["id"], doc["text"], dict(doc.get("meta") or {}))
        spacy_doc = predict_with_gold_entities(nlp, doc) if oracle else pipeline.process(nlp, doc["text"], document.meta)
        records.append(to_record(document, spacy_doc))
    return records


@app.command()
def evaluate(
    gold: list[Path] = typer.Option(..., "--gold", help="Gold documents (JSONL, CONTRACT.md format), or CoNLL files "
                                    "(any other suffix: the model's recognizer on their tokens); repeatable."),
    pred: Path | None = typer.Option(None, "--pred", help="Predicted documents (JSONL) to score."),
    model: Path | None = typer.Option(None, "--model", help="Score this model folder (default: the shipped one)."),
    oracle: bool = typer.Option(False, "--oracle", help="Link gold entity spans: fact linking errors without NER errors."),
    splits: Path | None = typer.Option(None, "--splits", help="A splits file; with --split, score only that split."),
    split: str | None = typer.Option(None, "--split", help="The split of --splits to score (e.g. dev, test)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the whole report as JSON here."),
    metrics_out: Path | None = typer.Option(None, "--metrics", help="Write a few headline figures as JSON here "
                                            "(DVC metrics: entity micro/macro F1, METRIC F1, fact accuracy, fact F1)."),
    plots: Path | None = typer.Option(None, "--plots", help="Write per_label.json and confusion.json here (DVC plots)."),
    errors_out: Path | None = typer.Option(None, "--errors", help="Write every entity error here (JSON lines)."),
    show_errors: int = typer.Option(20, "--show-errors", min=0, help="Print a table of the first N entity errors."),
) -> None:
    """Score entities (seqeval strict IOB2, every label of gold and predictions) and facts against gold."""
    if pred and (model or oracle):
        raise InputError("give either --pred or --model/--oracle, not both")
    if bool(splits) != bool(split):
        raise InputError("give --splits and --split together")
    report = evaluate_model(gold, pred, model, oracle, splits, split)
    confusion, errors = report.pop("confusion"), report.pop("entity_errors")
    for label, spans in report["unknown_gold_labels"].items():
        counted = f"{spans} span" + ("" if spans == 1 else "s")
        print(f"vipie: warning: gold label {label} ({counted}) is not among the model's labels "
              f"({', '.join(report['model_labels'])}): the model never predicts it", file=sys.stderr)
    if json_out:
        write_json(json_out, report)
    if metrics_out:
        from pipeline.evaluate import headline

        write_json(metrics_out, headline(report))
    if plots:
        rows = [{"label": label, **scores} for label, scores in report["entities"]["per_label"].items()]
        write_json(plots / "per_label.json", rows)
        write_json(plots / "confusion.json", confusion)
    if errors_out:
        write_errors(errors_out, errors)
    print_report(report)
    if show_errors and errors:
        print_errors(errors, show_errors, errors_out)


def evaluate_model(gold: list[Path], pred: Path | None, model: Path | None, oracle: bool, splits: Path | None,
                   split: str | None) -> dict:
    """The evaluation report of predictions (or of a model's predictions) against gold documents, or of a model's
    recognizer against CoNLL files (`evaluate_conll`).

    With a model, the report names its labels (`model_labels`, from its card) and the gold labels outside them
    with their number of spans (`unknown_gold_labels`); both are empty for --pred or a card without labels.

    Raises:
        InputError: CoNLL gold mixed with JSONL gold, or given with --pred, --oracle or --splits.
    """
    import pipeline
    from pipeline.document import read_gold_documents as read_gold
    from pipeline.evaluate import evaluate as run_evaluation
    from pipeline.evaluate import select_split, unknown_labels
    from pipeline.model import read_card

    conll = [path for path in gold if path.suffix != ".jsonl"]
    if conll:
        if len(conll) != len(gold) or pred or oracle or splits:
            raise InputError(f"{conll[0]}: CoNLL gold is scored on its own tokens, with --model only; give CoNLL "
                             "files alone, without --pred, --oracle or --splits")
        return evaluate_conll(conll, model)
    gold_docs = [doc for path in gold for doc in read_gold(path)]
    if splits:
        gold_docs = select_split(gold_docs, splits, split)
    pred_docs = read_gold(pred) if pred else predict(pipeline.load(model), gold_docs, oracle)
    report = run_evaluation(gold_docs, pred_docs)
    report["mode"] = "oracle" if oracle else "end-to-end"
    model_labels = [] if pred else read_card(model or pipeline.DEFAULT_MODEL).get("labels") or []
    report["model_labels"] = model_labels
    report["unknown_gold_labels"] = unknown_labels(gold_docs, model_labels) if model_labels else {}
    return report


def evaluate_conll(paths: list[Path], model: Path | None) -> dict:
    """The report of a model's own recognizer on the tokens of CoNLL files (strict IOB2, entities only): the
    model's score before tokenization and segmentation of raw text, to set beside its end-to-end score."""
    import pipeline
    from pipeline.evaluate import evaluate_tags, model_tags, unknown_tag_labels
    from pipeline.model import read_card
    from pipeline.train import read_examples

    examples = read_examples(paths, {}, [])
    report = evaluate_tags(examples, model_tags(pipeline.load(model), examples))
    model_labels = read_card(model or pipeline.DEFAULT_MODEL).get("labels") or []
    return {**report, "mode": "recognizer on CoNLL tokens", "model_labels": model_labels,
            "unknown_gold_labels": unknown_tag_labels(examples, model_labels) if model_labels else {},
            "confusion": [], "entity_errors": []}


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_errors(path: Path, errors: list[dict]) -> None:
    from pipeline.corpus import jsonl_line

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(jsonl_line(error) for error in errors)


def describe_span(span: dict | None, width: int = 40) -> Text:
    """A span as one table cell: label, text (cut to `width` characters, line breaks shown as \\n), offsets."""
    if span is None:
        return Text("—")
    text = span["text"] if len(span["text"]) <= width else span["text"][: width - 1] + "…"
    return Text(f"{span['label']} {text!r} [{span['start']}, {span['end']})")


def print_errors(errors: list[dict], limit: int, errors_out: Path | None) -> None:
    """A table of the first `limit` entity errors, by document and span."""
    where = f"; all in {errors_out}" if errors_out else "; --errors FILE writes them all"
    table = Table(title=f"entity errors: the first {min(limit, len(errors))} of {len(errors)}{where}")
    for column in ("document", "kind", "gold", "predicted"):
        table.add_column(column)
    for error in errors[:limit]:
        table.add_row(Text(error["doc_id"]), error["kind"], describe_span(error["gold"]), describe_span(error["pred"]))
    Console().print(table)


def print_report(report: dict) -> None:
    console = Console()
    table = Table(title=f"entities, strict IOB2 ({report['documents']} documents, {report['mode']})")
    for column in ("label", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="right" if column != "label" else "left")
    entities = report["entities"]
    for label, s in entities["per_label"].items():
        table.add_row(label, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1-score']:.3f}", str(int(s["support"])))
    for name in ("micro", "macro"):
        s = entities[name]
        table.add_row(f"[bold]{name}[/]", f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1-score']:.3f}", "")
    console.print(table)
    if "facts" not in report:
        return
    console.print("errors: " + ", ".join(f"{k} {v}" for k, v in report["errors"]["kinds"].items()))
    facts = report["facts"]
    accuracy = ", ".join(f"{k} {v:.3f}" for k, v in facts["accuracy"].items() if v is not None)
    console.print(f"facts: {facts['matched_metrics']}/{facts['gold_facts']} gold metrics matched; accuracy: {accuracy}; "
                  f"indicator F1 {facts['indicator_f1']}")
    spans = facts.get("indicator_span") or {}
    if spans.get("facts"):
        console.print(f"indicator spans ({spans['facts']} gold facts with spans): exact {spans['exact']:.3f}, "
                      f"token F1 {spans['token_f1']:.3f}")
    for name, kinds in (facts.get("by_evidence") or {}).items():
        console.print(f"{name} accuracy by gold evidence: " + ", ".join(
            f"{kind} {s['accuracy']:.3f} ({s['facts']})" for kind, s in kinds.items()), highlight=False)
    fl = facts["fact_level"]
    console.print(f"fact-level P {fl['precision']:.3f} R {fl['recall']:.3f} F1 {fl['f1']:.3f}")
    calibration = facts.get("score_calibration") or {}
    if calibration.get("facts"):
        console.print(f"fact score calibration ({calibration['facts']} matched facts): expected calibration error "
                      f"{calibration['ece']:.3f}; by score " + ", ".join(
                          f"{b['from']:.1f}+ {b['right']:.2f} right of {b['facts']}" for b in calibration["bins"]),
                      highlight=False)
    if entities["alignment_problems"]:
        console.print(f"[yellow]{len(entities['alignment_problems'])} spans do not align to tokens:[/]")
        for problem in entities["alignment_problems"]:
            console.print(f"  {problem}", highlight=False)
