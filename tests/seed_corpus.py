"""The five seeds and one rejected document, extracted once per test session into the three kinds of output.

Shared by the tests of `vipie show`, `vipie report` and the notebooks: each asks for it through its own fixture,
and the cache makes the extraction run once whichever asks first.
"""

import functools
import unicodedata
from pathlib import Path

from pipeline.corpus import open_outputs
from pipeline.document import Document
from pipeline.extract import process_document

REJECTED = Document("empty", "", {}, ["empty document"])


@functools.cache
def seed_corpus(nlp, basetemp: Path, seed_paths: tuple[Path, ...]) -> dict:
    """`records` (the output records, in order) and the paths of the `jsonl`, `duckdb` and `parquet` outputs,
    written in a folder of the session's `basetemp` (`tmp_path_factory.getbasetemp()`)."""
    documents = [Document(path.stem, unicodedata.normalize("NFC", path.read_text(encoding="utf-8")))
                 for path in seed_paths] + [REJECTED]
    records = [process_document(nlp, document) for document in documents]
    folder = basetemp / "seed_corpus"
    folder.mkdir()
    paths = {kind: folder / f"seeds.{kind}" for kind in ("jsonl", "duckdb", "parquet")}
    with open_outputs(list(paths.values()), []) as sinks:
        for sink in sinks:
            for record in records:
                sink.write(record)
    return {"records": records, **paths}
