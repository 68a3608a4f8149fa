"""Throughput of the vipie pipeline against underthesea's ner() on the same texts, in one run.

    python scripts/bench_extract.py [INPUT ...] [--model DIR] [--repeat N] [--json OUT]

Both read the same documents (default: the seed articles) in one process on
one core; model loading is excluded, and the best of N repeats is reported.
underthesea is called as its documentation shows, one sentence at a time
(`sent_tokenize`, then `ner` per sentence: the anchor for speed claims), and
also on whole documents for comparison.
Syllables are the non-space, non-punctuation tokens of vipie's tokenizer.
"""

import argparse
import json
import time
from pathlib import Path

import pipeline
from pipeline.document import iter_documents

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


def best_time(function, texts, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            function(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", type=Path, default=[DEFAULT_INPUT])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    from underthesea import ner, sent_tokenize

    texts = [d.text for d in iter_documents(args.inputs) if not d.errors]
    nlp = pipeline.load(args.model)
    syllables = sum(1 for text in texts for t in nlp.make_doc(text) if not (t.is_space or t.is_punct))
    for text in texts[:1]:  # warm both up: lazy model loads are not throughput
        pipeline.process(nlp, text)
        ner(text)
    vipie_s = best_time(lambda text: pipeline.process(nlp, text), texts, args.repeat)
    ner_s = best_time(ner, texts, args.repeat)
    per_sentence_s = best_time(lambda text: [ner(sentence) for sentence in sent_tokenize(text)], texts, args.repeat)
    figures = {
        "documents": len(texts), "syllables": syllables,
        "vipie_seconds": round(vipie_s, 3), "vipie_syllables_per_second": round(syllables / vipie_s),
        "underthesea_ner_seconds": round(ner_s, 3), "underthesea_ner_syllables_per_second": round(syllables / ner_s),
        "underthesea_ner_per_sentence_seconds": round(per_sentence_s, 3),
        "underthesea_ner_per_sentence_syllables_per_second": round(syllables / per_sentence_s),
        "speedup_vs_per_sentence": round(per_sentence_s / vipie_s, 2),
        "speedup_vs_whole_document": round(ner_s / vipie_s, 2),
    }
    for key, value in figures.items():
        print(f"{key:40s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
