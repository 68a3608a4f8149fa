"""Write the rule-only vipie pipeline to a model folder.

    python scripts/build_default_model.py OUT_DIR

The folder holds the spaCy config that names vipie's tokenizer and components;
the rules read their gazetteers from the package, so it carries no weights.
The shipped default (models/default) is a trained CRF made by `vipie train`.
"""

import sys
from pathlib import Path

from pipeline.model import build_pipeline, write_card


def main(out_dir: Path) -> None:
    nlp = build_pipeline("rules")
    nlp.to_disk(out_dir, exclude=["vocab"])
    write_card(out_dir, {"backend": "rules", "trained_on": None})
    print(f"wrote {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
