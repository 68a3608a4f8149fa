"""Building and describing model folders: the spaCy pipeline of a backend, and its model card."""

import json
from pathlib import Path

from pipeline import __version__
from pipeline.labels import LABEL_NAMES

BACKEND_COMPONENTS = {
    "rules": ("vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer", "vipie_fact_linker"),
    "crf": ("vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer", "vipie_crf_recognizer",
            "vipie_fact_linker"),
    "transformer": ("vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer", "vipie_transformer_recognizer",
                    "vipie_fact_linker"),
}
CARD_FILE = "card.json"


def build_pipeline(backend: str, component_config: dict | None = None):
    """A `Language` with vipie's tokenizer and the components of `backend` (untrained)."""
    import spacy

    from pipeline import components, tokenize  # noqa: F401  (registers factories and the tokenizer)

    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"@tokenizers": "vipie.SyllableTokenizer.v1"}}})
    for name in BACKEND_COMPONENTS[backend]:
        nlp.add_pipe(name, config=(component_config or {}).get(name, {}))
    nlp.meta.update({"name": f"vipie_{backend}", "version": __version__})
    return nlp


def write_card(model_dir: Path, card: dict) -> None:
    """Write the model card: `card.json` for machines and `README.md` for people."""
    card = {"labels": list(LABEL_NAMES), "vipie_version": __version__, **card}
    (model_dir / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = [f"# vipie model: {card.get('backend')}", ""]
    for key, value in card.items():
        if key != "metrics":
            lines.append(f"- **{key}**: {value}")
    metrics = card.get("metrics") or {}
    if metrics:
        lines += ["", "## Metrics", "", "```json", json.dumps(metrics, ensure_ascii=False, indent=2), "```"]
    (model_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_card(model_dir: Path) -> dict:
    path = model_dir / CARD_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
