"""`vipie show`: documents with their entities and facts as one self-contained HTML page."""

from pathlib import Path

import typer

from pipeline.cli import app
from pipeline.document import DEFAULT_MAX_CHARS


@app.command()
def show(
    inputs: list[Path] = typer.Argument(..., help="Extraction JSONL files (as they are), or .txt files, JSONL files "
                                                  "of documents and folders (run through the model)."),
    out: Path = typer.Option(..., "--out", "-o", help="The page to write, ending in .html."),
    ids: list[str] = typer.Option([], "--id", help="Show only the document with this id; repeat for several."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model folder for raw inputs; default: the "
                                                                  "shipped models/default."),
    title: str = typer.Option("vipie: entities and facts", "--title", help="The page's title."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists (refused without it)."),
    max_chars: int = typer.Option(DEFAULT_MAX_CHARS, "--max-chars", min=1, help="Reject longer raw documents."),
) -> None:
    """Write a page that shows each document's entities (highlighted) and facts beside their paragraphs."""
    import pipeline
    from pipeline.document import expand_inputs
    from pipeline.show import check_page_out, pick, read_records, show_page, write_page

    check_page_out(out, overwrite)  # a bad --out fails now, not after the model has run
    expand_inputs(inputs)  # so does a missing input
    records = pick(read_records(inputs, lambda: pipeline.load(model), max_chars), ids)
    write_page(show_page(records, title), out, overwrite)
    print(f"vipie: wrote {out} ({len(records)} documents, {sum(len(r.get('facts') or []) for r in records)} facts)")
