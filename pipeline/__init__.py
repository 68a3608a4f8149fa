"""vipie: information extraction from Vietnamese provincial news on digital government.

    import pipeline
    nlp = pipeline.load()            # the model shipped in models/default
    doc = pipeline.process(nlp, "...", meta={"province": "Lào Cai"})
"""

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

__version__ = "0.1.0"

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"
# The components that run torch: a pipeline with none of them loads with torch hidden from thinc.
TORCH_FACTORIES = frozenset({"vipie_transformer_recognizer"})
CONFIG_FACTORY = re.compile(r'^factory\s*=\s*"([^"]+)"', re.MULTILINE)


def config_factories(config_text: str) -> set[str]:
    """The component factories a spaCy config names (read as text: spaCy may not be imported yet)."""
    return set(CONFIG_FACTORY.findall(config_text))


@contextmanager
def torch_hidden_from_thinc(hide: bool) -> Iterator[None]:
    """Within the block `import torch` fails, when `hide` and neither torch nor thinc is imported yet.

    thinc, spaCy's machine-learning library, imports torch as soon as it is installed (thinc/compat.py), whether
    or not a pipeline uses it: seconds of start-up and about 200 MB. vipie never uses thinc's torch support (the
    transformer backend and the cross-encoders import torch themselves), so spaCy is first imported with torch
    hidden for a pipeline without a torch component; after the block torch imports as usual.
    """
    if not hide or "torch" in sys.modules or "thinc" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # `import torch` now raises ImportError, which thinc reads as "no torch"
    try:
        yield
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


def spacy_info(*args, **kwargs):
    """`spacy.info`, imported from spaCy's command line when it is called (see `spacy_cli_deferred`)."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


@contextmanager
def spacy_cli_deferred() -> Iterator[None]:
    """Within the block spaCy imports without its command line, when spaCy is not imported yet.

    spaCy's `__init__` imports `spacy.cli.info.info` for its `spacy.info`, and with it the whole `spacy.cli` package:
    every spaCy command, requests and jinja2, about half a second of start-up that vipie never uses. Stand-in modules
    give `spacy.info` as `spacy_info`, which imports the real one when called; after the block the stand-ins are gone
    and `import spacy.cli` imports the real package.
    """
    if "spacy" in sys.modules or "spacy.cli" in sys.modules:
        yield
        return
    cli, info = ModuleType("spacy.cli"), ModuleType("spacy.cli.info")
    cli.__path__ = []
    info.info = spacy_info
    stand_ins = {cli.__name__: cli, info.__name__: info}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def check_model_dir(path: Path) -> None:
    """Raises ModelError when `path` is not a model folder made by vipie (it has no config.cfg)."""
    from pipeline.errors import ModelError

    if not (path / "config.cfg").is_file():
        raise ModelError(f"{path}: not a vipie model (no config.cfg); pass --model a folder made by vipie or omit it")


def load(model_dir: str | Path | None = None):
    """The spaCy `Language` stored in `model_dir` (default: the shipped model), with vipie's components.

    Every file is checked against the checksums of the model card before anything is loaded; a folder whose
    card lists none loads with a warning on stderr.

    Raises:
        ModelError: the folder is missing, holds no spaCy config, or a file differs from its checksum.
    """
    from pipeline.model import verify_model_files

    path = Path(model_dir) if model_dir else DEFAULT_MODEL
    check_model_dir(path)
    warning = verify_model_files(path)
    if warning:
        print(f"vipie: warning: {warning}", file=sys.stderr)
    factories = config_factories((path / "config.cfg").read_text(encoding="utf-8"))
    with torch_hidden_from_thinc(hide=not factories & TORCH_FACTORIES), spacy_cli_deferred():
        import spacy

        from pipeline import components, tokenize  # noqa: F401  (registers the factories and the tokenizer)
    config = spacy.util.load_config(path / "config.cfg")
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    return nlp.from_disk(path, exclude=["vocab", "tokenizer"])


def process(nlp, text: str, meta: dict | None = None):
    """Run `nlp` on `text` with its document metadata; returns the annotated `Doc`."""
    doc = nlp.make_doc(text)
    doc._.meta = dict(meta or {})
    return nlp(doc)
