"""vipie: information extraction from Vietnamese provincial news on digital government.

    import pipeline
    nlp = pipeline.load()            # the model shipped in models/default
    doc = pipeline.process(nlp, "...", meta={"province": "Lào Cai"})
"""

import sys
from pathlib import Path

__version__ = "0.1.0"

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"


def load(model_dir: str | Path | None = None):
    """The spaCy `Language` stored in `model_dir` (default: the shipped model), with vipie's components.

    Every file is checked against the checksums of the model card before anything is loaded; a folder whose
    card lists none loads with a warning on stderr.

    Raises:
        ModelError: the folder is missing, holds no spaCy config, or a file differs from its checksum.
    """
    import spacy

    from pipeline import components, tokenize  # noqa: F401  (registers the factories and the tokenizer)
    from pipeline.errors import ModelError
    from pipeline.model import verify_model_files

    path = Path(model_dir) if model_dir else DEFAULT_MODEL
    if not (path / "config.cfg").is_file():
        raise ModelError(f"{path}: not a vipie model (no config.cfg); pass --model a folder made by vipie or omit it")
    warning = verify_model_files(path)
    if warning:
        print(f"vipie: warning: {warning}", file=sys.stderr)
    config = spacy.util.load_config(path / "config.cfg")
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    return nlp.from_disk(path, exclude=["vocab", "tokenizer"])


def process(nlp, text: str, meta: dict | None = None):
    """Run `nlp` on `text` with its document metadata; returns the annotated `Doc`."""
    doc = nlp.make_doc(text)
    doc._.meta = dict(meta or {})
    return nlp(doc)
