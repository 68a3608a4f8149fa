"""`vipie evaluate`: predictions or a model against gold documents."""

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli import app
from pipeline.errors import InputError


def predict(model: Path | None, gold: list[dict], oracle: bool) -> list[dict]:
    """Records predicted by a model for the gold documents; with `oracle`, linking gold entity spans."""
    import pipeline
    from pipeline.document import Document
    from pipeline.evaluate import predict_with_gold_entities
    from pipeline.extract import to_record

    nlp = pipeline.load(model)
    records = []
    for doc in gold:
        document = Document(doc["id"], doc["text"], dict(doc.get("meta") or {}))
        spacy_doc = predict_with_gold_entities(nlp, doc) if oracle else pipeline.process(nlp, doc["text"], document.meta)
        records.append(to_record(document, spacy_doc))
    return records


@app.command()
def evaluate(
    gold: Path = typer.Option(..., "--gold", help="Gold documents (JSONL, CONTRACT.md format)."),
    pred: Path | None = typer.Option(None, "--pred", help="Predicted documents (JSONL) to score."),
    model: Path | None = typer.Option(None, "--model", help="Score this model folder (default: the shipped one)."),
    oracle: bool = typer.Option(False, "--oracle", help="Link gold entity spans: fact linking errors without NER errors."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the full report as JSON here."),
) -> None:
    """Score entities (seqeval strict IOB2) and facts against gold."""
    from pipeline.evaluate import evaluate as run_evaluation
    from pipeline.evaluate import read_gold

    if pred and (model or oracle):
        raise InputError("give either --pred or --model/--oracle, not both")
    gold_docs = read_gold(gold)
    pred_docs = read_gold(pred) if pred else predict(model, gold_docs, oracle)
    report = run_evaluation(gold_docs, pred_docs)
    report["mode"] = "oracle" if oracle else "end-to-end"
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_report(report)


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
    console.print("errors: " + ", ".join(f"{k} {v}" for k, v in report["errors"]["kinds"].items()))
    facts = report["facts"]
    accuracy = ", ".join(f"{k} {v:.3f}" for k, v in facts["accuracy"].items() if v is not None)
    console.print(f"facts: {facts['matched_metrics']}/{facts['gold_facts']} gold metrics matched; accuracy: {accuracy}; "
                  f"indicator F1 {facts['indicator_f1']}")
    fl = facts["fact_level"]
    console.print(f"fact-level P {fl['precision']:.3f} R {fl['recall']:.3f} F1 {fl['f1']:.3f}")
    if entities["alignment_problems"]:
        console.print(f"[yellow]{len(entities['alignment_problems'])} spans do not align to tokens:[/]")
        for problem in entities["alignment_problems"]:
            console.print(f"  {problem}", highlight=False)
