"""Write the rule-based vipie pipeline to a model folder (default: models/default).

    python scripts/build_default_model.py [OUT_DIR]

The folder holds the spaCy config that names vipie's tokenizer and components;
the rules read their gazetteers from the package, so it carries no weights.
"""

import sys
from pathlib import Path

import spacy

import pipeline
from pipeline import components, tokenize  # noqa: F401  (registers factories)

COMPONENTS = ("vipie_layout", "vipie_word_segmenter", "vipie_rule_recognizer", "vipie_fact_linker")


def main(out_dir: Path) -> None:
    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"@tokenizers": "vipie.SyllableTokenizer.v1"}}})
    for name in COMPONENTS:
        nlp.add_pipe(name)
    nlp.meta.update({"name": "vipie_rules", "version": pipeline.__version__,
                     "description": "vipie rule and gazetteer pipeline (no trained weights)"})
    nlp.to_disk(out_dir, exclude=["vocab"])
    print(f"wrote {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else pipeline.DEFAULT_MODEL)
