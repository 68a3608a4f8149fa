"""Building and describing model folders: the spaCy pipeline of a backend, and its model card.

The card (`card.json`) records the SHA-256 of every other file of the folder
but README.md; `verify_model_files` checks them before anything of the folder
is loaded, so a truncated, corrupt or replaced file is a one-line error and
never reaches a C library that would crash on it.
"""

import hashlib
import json
from pathlib import Path, PurePosixPath

from pipeline import __version__
from pipeline.errors import ModelError

BACKEND_COMPONENTS = {
    "rules": ("vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer", "vipie_fact_linker"),
    "crf": ("vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer", "vipie_crf_recognizer",
            "vipie_fact_linker"),
    "transformer": ("vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer", "vipie_transformer_recognizer",
                    "vipie_fact_linker"),
}
CARD_FILE = "card.json"
# The files that describe a folder rather than make it up: the card holds the checksums, README.md is its copy.
UNCHECKED_FILES = (CARD_FILE, "README.md")


def build_pipeline(backend: str, component_config: dict | None = None):
    """A `Language` with vipie's tokenizer and the components of `backend` (untrained)."""
    import spacy

    from pipeline import components, tokenize  # noqa: F401  (registers factories and the tokenizer)

    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"@tokenizers": "vipie.SyllableTokenizer.v1"}}})
    for name in BACKEND_COMPONENTS[backend]:
        nlp.add_pipe(name, config=(component_config or {}).get(name, {}))
    nlp.meta.update({"name": f"vipie_{backend}", "version": __version__})
    return nlp


def sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (transformer weights are large)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def file_checksums(model_dir: Path) -> dict[str, str]:
    """The SHA-256 of each file of a model folder but UNCHECKED_FILES, by its path in the folder (POSIX), sorted."""
    checksums = {}
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        name = path.relative_to(model_dir).as_posix()
        if name not in UNCHECKED_FILES:
            checksums[name] = sha256(path)
    return checksums


def write_card(model_dir: Path, card: dict) -> None:
    """Write the model card: `card.json` for machines and `README.md` for people.

    `card["labels"]` is the label set the model knows (from its training data); evaluation warns on gold labels
    outside it. The card's `files` are the checksums of the folder as it is now: write the card last, when every
    file exists.
    """
    card = {"vipie_version": __version__, **card, "files": file_checksums(model_dir)}
    (model_dir / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = [f"# vipie model: {card.get('backend')}", ""]
    for key, value in card.items():
        if key not in ("metrics", "files"):
            lines.append(f"- **{key}**: {value}")
    metrics = card.get("metrics") or {}
    if metrics:
        lines += ["", "## Metrics", "", "```json", json.dumps(metrics, ensure_ascii=False, indent=2), "```"]
    (model_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_card(model_dir: Path) -> dict:
    """The model card of `model_dir`, or {} when it has none.

    Raises:
        ModelError: the card is not a JSON object.
    """
    path = model_dir / CARD_FILE
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc}); copy the model folder again or rebuild it with "
                         "`vipie train`") from exc
    if not isinstance(card, dict):
        raise ModelError(f"{path}: not a model card (a JSON object); copy the model folder again or rebuild it")
    return card


def verify_model_files(model_dir: Path) -> str | None:
    """Check the files of `model_dir` against the checksums its card lists, before any of them is loaded.
    Files the card does not list are not read by this check.

    Returns:
        A warning when the card lists no checksums (a folder written before vipie recorded them), else None.

    Raises:
        ModelError: a listed file is missing, outside the folder, or differs from its checksum.
    """
    files = read_card(model_dir).get("files")
    if not files:
        return (f"{model_dir}: its card lists no checksums, so its files are not verified; rebuild the model with "
                "`vipie train` to add them")
    if not isinstance(files, dict):
        raise ModelError(f"{model_dir / CARD_FILE}: 'files' is not a map of file names to checksums; copy the model "
                         "folder again or rebuild it with `vipie train`")
    for name, expected in files.items():
        if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
            raise ModelError(f"{model_dir / CARD_FILE}: lists {name!r}, which is outside the model folder; "
                             "the card was altered, do not use this model")
        check_listed_file(model_dir / name, expected, CARD_FILE)
    return None


def check_listed_file(path: Path, expected: str, listed_in: str) -> None:
    """Check that `path` exists and has the SHA-256 `expected` that the file `listed_in` records for it.

    Raises:
        ModelError: the file is missing or differs from its checksum.
    """
    if not path.is_file():
        raise ModelError(f"{path}: missing; the model folder is incomplete, copy it again or rebuild it with "
                         "`vipie train`")
    if sha256(path) != expected:
        raise ModelError(f"{path}: its checksum differs from {listed_in}; the file is corrupt or was replaced, "
                         "copy the model folder again or rebuild it with `vipie train`")
