"""Preparing datasets and training NER backends into model folders.

    prepare: gold JSONL + splits.json → a `DatasetDict` on disk (train/dev/test)
    train:   a DatasetDict or gold/CoNLL files → models/NAME (spaCy config, weights, card.json)
"""

import json
import shutil
import tempfile
from pathlib import Path

from pipeline.errors import InputError
from pipeline.facts.link import LinkContext
from pipeline.model import build_pipeline, write_card
from pipeline.recognize.crf import MODEL_FILE, CrfModel, example_text, spans_to_tags, token_features
from pipeline.training_data import (
    Example,
    examples_from_dataset,
    read_conll,
    read_gold_examples,
    to_dataset_dict,
)

STRUCTURE_COMPONENTS = ("vipie_layout", "vipie_word_segmenter")
# Where `prepare` puts the gold documents of each split, inside the dataset folder.
DOCUMENTS = "documents"
LINKER_COMPONENT = "vipie_fact_linker"


def structure_pipeline():
    """The pipeline that gives paragraphs and word segmentation, without recognizers."""
    nlp = build_pipeline("rules")
    for name in list(nlp.pipe_names):
        if name not in STRUCTURE_COMPONENTS:
            nlp.remove_pipe(name)
    return nlp


def read_examples(paths: list[Path], label_map: dict[str, str], problems: list[str], structure_nlp=None) -> list[Example]:
    """Examples from gold JSONL files (.jsonl) and CoNLL files (any other suffix)."""
    examples = []
    gold = [p for p in paths if p.suffix == ".jsonl"]
    if gold:
        examples.extend(read_gold_examples(structure_nlp or structure_pipeline(), gold, problems))
    for path in paths:
        if path.suffix != ".jsonl":
            examples.extend(read_conll(path, label_map))
    return examples


def split_documents(gold_paths: list[Path], splits: dict[str, list[str]]) -> dict[str, list[dict]]:
    """Gold documents grouped by the split their id is listed in.

    Raises:
        InputError: a listed id has no document, or a document is in no split.
    """
    docs = {}
    for path in gold_paths:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    doc = json.loads(line)
                    docs[doc["id"]] = doc
    grouped = {}
    for split, ids in splits.items():
        missing = [i for i in ids if i not in docs]
        if missing:
            raise InputError(f"splits list ids with no gold document: {', '.join(missing[:5])}")
        grouped[split] = [docs[i] for i in ids]
    unassigned = set(docs) - {i for ids in splits.values() for i in ids}
    if unassigned:
        raise InputError(f"gold documents in no split: {', '.join(sorted(unassigned)[:5])}; add them to the splits file")
    return grouped


def prepare_dataset(gold_paths: list[Path], splits_path: Path, out_dir: Path) -> dict:
    """Write a DatasetDict with one split per key of `splits_path`, and the gold documents of each split as
    `documents/<split>.jsonl` beside it (the fact linker trains on whole documents); returns counts and
    alignment problems."""
    from datasets.utils.logging import disable_progress_bar

    from pipeline.training_data import doc_examples

    disable_progress_bar()
    splits = json.loads(splits_path.read_text(encoding="utf-8"))
    structure_nlp = structure_pipeline()
    problems: list[str] = []
    grouped = split_documents(gold_paths, splits)
    examples = {split: [ex for doc in docs for ex in doc_examples(structure_nlp, doc, problems)]
                for split, docs in grouped.items()}
    to_dataset_dict(examples).save_to_disk(str(out_dir))
    (out_dir / DOCUMENTS).mkdir(exist_ok=True)
    for split, docs in grouped.items():
        with (out_dir / DOCUMENTS / f"{split}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
    return {"documents": {s: len(d) for s, d in grouped.items()}, "examples": {s: len(e) for s, e in examples.items()},
            "alignment_problems": problems}


def rule_tags(recognizer, example: Example) -> list[str]:
    """What the rule recognizer tags in an example, as IOB2 tags of its tokens (a CRF feature)."""
    text, starts, ends = example_text(example)
    return spans_to_tags(starts, ends, [(c.start, c.end, c.label) for c in recognizer.find(text)])


def crf_sequences(recognizer, examples: list[Example]) -> list[tuple[list[list[str]], list[str]]]:
    return [(token_features(ex.tokens, ex.word_ids, rule_tags(recognizer, ex)), ex.tags) for ex in examples]


def tag_scores(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """seqeval strict IOB2 micro P/R/F1 and per-label F1 of tag sequences."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    labels = {k: round(float(v["f1-score"]), 4) for k, v in report.items() if not k.endswith(" avg")}
    micro = report["micro avg"]
    return {"precision": round(float(micro["precision"]), 4), "recall": round(float(micro["recall"]), 4),
            "f1": round(float(micro["f1-score"]), 4), "per_label_f1": labels}


def train_crf(train: list[Example], dev: list[Example], out_dir: Path, c1: float, c2: float, max_iterations: int,
              precedence: dict | None, card: dict) -> dict:
    """Train the CRF backend into a model folder; returns dev scores of the CRF alone (strict IOB2)."""
    from pipeline.provinces import default_resolver
    from pipeline.recognize.rules import RuleRecognizer

    if not train:
        raise InputError("no training examples; give --train files or a --dataset with a train split")
    recognizer = RuleRecognizer(default_resolver())
    with tempfile.TemporaryDirectory() as tmp:
        model = CrfModel.train(crf_sequences(recognizer, train), Path(tmp), c1, c2, max_iterations)
        config = {"vipie_crf_recognizer": {"precedence": precedence}} if precedence else None
        nlp = build_pipeline("crf", config)
        nlp.get_pipe("vipie_crf_recognizer").use_model_file(Path(tmp) / MODEL_FILE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        nlp.to_disk(out_dir, exclude=["vocab"])
    metrics = {}
    if dev:
        predicted = [model.tag(features)[0] for features, _ in crf_sequences(recognizer, dev)]
        metrics["dev_crf_tags"] = tag_scores([ex.tags for ex in dev], predicted)
    write_card(out_dir, {"backend": "crf", "params": {"c1": c1, "c2": c2, "max_iterations": max_iterations},
                         "train_examples": len(train), "dev_examples": len(dev), **card, "metrics": metrics})
    return metrics


def load_splits(dataset_dir: Path) -> dict[str, list[Example]]:
    from datasets import load_from_disk

    if not dataset_dir.is_dir():
        raise InputError(f"{dataset_dir}: no dataset folder; make one with `vipie prepare`")
    dataset = load_from_disk(str(dataset_dir))
    return {split: examples_from_dataset(dataset[split]) for split in dataset}


def dataset_documents(dataset_dir: Path, split: str) -> list[dict]:
    """The gold documents `prepare` stored for `split` (empty when the dataset has none)."""
    path = dataset_dir / DOCUMENTS / f"{split}.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def layout_contexts(documents: list[dict]) -> list[tuple[dict, LinkContext]]:
    """Each gold document with the layout and metadata the fact linker reads (title, paragraphs, sentences, a
    publication date from a dateline)."""
    from pipeline.components import link_context

    nlp = build_pipeline("rules")
    layout = nlp.get_pipe("vipie_layout")
    contexts = []
    for gold in documents:
        doc = nlp.make_doc(gold["text"])
        doc._.meta = dict(gold.get("meta") or {})
        contexts.append((gold, link_context(layout(doc))))
    return contexts


def oracle_report(linker, learned, structured) -> dict:
    """`pipeline.evaluate.fact_scores` of the rule linker (`learned` None) or the learned one over it, on gold
    entities (oracle linking) of gold documents with their layout contexts."""
    from pipeline.evaluate import fact_scores
    from pipeline.facts.link import EntitySpan

    pairs = []
    for gold, context in structured:
        entities = [EntitySpan(e["start"], e["end"], e["label"], e["text"]) for e in gold["entities"]]
        facts = linker.link_facts(gold["text"], entities, context)
        if learned is not None:
            facts = learned.refine(linker, gold["text"], entities, context, facts)
        pairs.append((gold, {**gold, "facts": facts}))
    return fact_scores(pairs)


def linker_scores(linker, learned, structured) -> dict:
    """Province, year and fact accuracy and indicator span token F1 of the rule and learned linkers (oracle)."""
    scores = {}
    for name, model in (("rules", None), ("learned", learned)):
        report = oracle_report(linker, model, structured)
        scores[name] = {"province": report["accuracy"]["province"], "year": report["accuracy"]["year"],
                        "fact_f1": report["fact_level"]["f1"], "indicator_token_f1": report["indicator_span"]["token_f1"]}
    return scores


def attach_linker(model_dir: Path, train_docs: list[dict], dev_docs: list[dict], c: float, seed: int,
                  cross_encoder: dict | None = None) -> dict:
    """Train the learned fact linker on gold documents into `model_dir` and switch the model's linker to it;
    returns oracle dev scores of the rule and learned linkers.

    With `cross_encoder` (base_model, epochs, learning_rate, device), province and year are ranked by
    cross-encoders fine-tuned from that base model instead of feature rankers (`pipeline.facts.learned`)."""
    import spacy

    from pipeline.facts.learned import train_linker
    from pipeline.facts.link import FactLinker
    from pipeline.provinces import default_resolver

    train = [doc for doc in train_docs if doc.get("facts")]
    if not train:
        raise InputError("no gold facts to train the fact linker on; give gold documents or --linker rules")
    linker = FactLinker(default_resolver())
    learned = train_linker(layout_contexts(train), linker, model_dir / LINKER_COMPONENT, c, seed, cross_encoder)
    config = spacy.util.load_config(model_dir / "config.cfg")
    config["components"][LINKER_COMPONENT]["mode"] = "learned"
    config.to_disk(model_dir / "config.cfg")
    if cross_encoder is None:
        summary = {"mode": "learned", "c": c}
    else:
        summary = {"mode": "learned", "cross_encoder": {**cross_encoder, "province": learned.province.training,
                                                        "year": learned.year.training}}
    summary.update({"train_documents": len(train), "train_facts": sum(len(doc["facts"]) for doc in train)})
    if dev_docs:
        summary["dev_oracle"] = linker_scores(linker, learned, layout_contexts(dev_docs))
    return summary
