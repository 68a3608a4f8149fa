"""Train the CRF backend on a public CoNLL NER set and print strict test precision, recall and F1.

    python scripts/bench_crf_conll.py --train TRAIN.conll --test TEST.conll [--label-map PER=OFFICIAL,...]
                                      [--no-rule-features] [--c1 0.05] [--c2 0.01] [--max-iterations 200]

For comparing vipie's training stack with published results (VLSP 2016, PhoNER_COVID19): the data
is read from the paths given and never copied into the repository. Scores are seqeval entity-level,
strict IOB2, per label and micro. By default the rule recognizer's tags are features, as in the
shipped model; --no-rule-features measures the CRF on its own, as published baselines are.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from pipeline.provinces import default_resolver
from pipeline.recognize.crf import CrfModel, token_features
from pipeline.recognize.rules import RuleRecognizer
from pipeline.train import rule_tags, tag_scores
from pipeline.training_data import read_conll


def parse_map(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item.strip())


def sequences(examples, recognizer):
    return [(token_features(ex.tokens, ex.word_ids, rule_tags(recognizer, ex) if recognizer else ["O"] * len(ex.tokens)),
             ex.tags) for ex in examples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--label-map", default="")
    parser.add_argument("--no-rule-features", action="store_true")
    parser.add_argument("--c1", type=float, default=0.05)
    parser.add_argument("--c2", type=float, default=0.01)
    parser.add_argument("--max-iterations", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    mapping = parse_map(args.label_map)
    train, test = read_conll(args.train, mapping), read_conll(args.test, mapping)
    recognizer = None if args.no_rule_features else RuleRecognizer(default_resolver())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = CrfModel.train(sequences(train, recognizer), Path(tmp), args.c1, args.c2, args.max_iterations)
        seconds = time.perf_counter() - started
        predicted = [model.tag(features)[0] for features, _ in sequences(test, recognizer)]
    scores = tag_scores([ex.tags for ex in test], predicted)
    report = {"train_sentences": len(train), "test_sentences": len(test), "train_seconds": round(seconds, 1), **scores}
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
