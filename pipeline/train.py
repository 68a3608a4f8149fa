"""Preparing datasets and training NER backends into model folders.

    prepare: gold JSONL + splits.json → a `DatasetDict` on disk (train/dev/test)
    train:   a DatasetDict or gold/CoNLL files → models/NAME (spaCy config, weights, card.json)
"""

import bisect
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.errors import InputError
from pipeline.facts.link import LinkContext
from pipeline.labels import LABEL_NAMES
from pipeline.model import build_pipeline, write_card
from pipeline.recognize.crf import MODEL_FILE, CrfModel, example_text, spans_to_tags, token_features
from pipeline.recognize.merge import merged_rule_labels
from pipeline.segment import WordTokenizer, segment_words, underthesea_segmenter
from pipeline.tokenize import syllable_tokens
from pipeline.training_data import (
    Example,
    entity_labels,
    examples_from_dataset,
    read_conll,
    read_gold_examples,
    to_dataset_dict,
)

STRUCTURE_COMPONENTS = ("vipie_layout", "vipie_word_segmenter")
# Where `prepare` puts the gold documents of each split, inside the dataset folder.
DOCUMENTS = "documents"
LINKER_COMPONENT = "vipie_fact_linker"
CRF_COMPONENT = "vipie_crf_recognizer"
# What the card says CoNLL examples' word ids come from (the segmentation extraction reads, not the file's).
CONLL_WORD_IDS = "underthesea segmentation of each sentence's text, as in extraction"


def silent(message: str) -> None:
    """The default progress reporter: library functions print nothing unless a caller asks."""


def structure_pipeline():
    """The pipeline that gives paragraphs and word segmentation, without recognizers."""
    nlp = build_pipeline("rules")
    for name in list(nlp.pipe_names):
        if name not in STRUCTURE_COMPONENTS:
            nlp.remove_pipe(name)
    return nlp


def retokenized(example: Example) -> Example:
    """A CoNLL example in the tokens vipie's tokenizer gives its text (`example_text`): "TP." is "TP" and ".",
    "N.H.N." is "N.H.N" and ".". Each token takes the tag of the file's token it starts in, as a continuation (I-)
    when it is not that token's first, so gold spans keep their characters and training sees the tokens extraction
    sees."""
    text, starts, _ = example_text(example)
    tokens, tags, new_starts, new_ends = [], [], [], []
    position = 0
    for word, space in zip(*syllable_tokens(text)):
        if not word.isspace():
            owner = bisect.bisect_right(starts, position) - 1
            tag = example.tags[owner]
            if tag != "O" and new_starts and bisect.bisect_right(starts, new_starts[-1]) - 1 == owner:
                tag = "I-" + tag[2:]
            tokens.append(word)
            tags.append(tag)
            new_starts.append(position)
            new_ends.append(position + len(word))
        position += len(word) + space
    return Example(example.id, tokens, tags, list(range(len(tokens))), new_starts, new_ends)


def segmented_word_ids(example: Example, tokenize_words: WordTokenizer) -> list[int]:
    """Word ids of an example's tokens from the word segmentation extraction gives its text: a token that starts a
    segmenter word starts a new id, one inside the current word keeps it, any other gets an id of its own (as
    `paragraph_examples` numbers a Doc's words)."""
    text, starts, _ = example_text(example)
    word_end = dict(segment_words(text, [(0, len(text))], set(), tokenize_words))
    word_ids, current_end = [], -1
    for start in starts:
        if start in word_end or start >= current_end:
            current_end = word_end.get(start, -1)
            word_ids.append(word_ids[-1] + 1 if word_ids else 0)
        else:
            word_ids.append(word_ids[-1])
    return word_ids


def read_examples(paths: list[Path], label_map: dict[str, str], problems: list[str], structure_nlp=None,
                  tokenize_words: WordTokenizer | None = None) -> list[Example]:
    """Examples from gold JSONL files (.jsonl) and CoNLL files (any other suffix).

    A CoNLL sentence is read as extraction reads its text: in vipie's tokens (`retokenized`), and with
    `tokenize_words`' segmentation (default: the extraction's, underthesea's) instead of the file's own word
    boundaries (one word per syllable in a syllable file, gold words in a "_"-joined one): a CRF trained on other tokens or word features than it meets in
    extraction loses accuracy (PhoNER syllables: 91.15 -> 90.21 strict F1 from the words alone).
    """
    examples = []
    gold = [p for p in paths if p.suffix == ".jsonl"]
    if gold:
        examples.extend(read_gold_examples(structure_nlp or structure_pipeline(), gold, problems))
    conll = [path for path in paths if path.suffix != ".jsonl"]
    if conll:
        tokenize_words = tokenize_words or underthesea_segmenter()
    for path in conll:
        for example in map(retokenized, read_conll(path, label_map)):
            example.word_ids = segmented_word_ids(example, tokenize_words)
            examples.append(example)
    return examples


def gold_files(paths: list[Path]) -> list[Path]:
    """The gold JSONL files `paths` name: files as given, and each folder's *.jsonl files in name order.

    Raises:
        InputError: a path does not exist, or a folder holds no *.jsonl file.
    """
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise InputError(f"{path}: a gold folder with no *.jsonl file; give gold JSONL files or their folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such gold file or folder")
    return files


def split_documents(gold_paths: list[Path], splits: dict[str, list[str]]) -> dict[str, list[dict]]:
    """Gold documents (from files or folders of them) grouped by the split their id is listed in.

    Raises:
        InputError: a gold path is missing, a listed id has no document, or a document is in no split.
    """
    docs = {}
    for path in gold_files(gold_paths):
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
    """(features, tags) of each example; with `recognizer` None the rule features are left out (every rule tag
    is "O", as `vipie_crf_recognizer` gives them when its `rule_features` is off)."""
    def tags(example: Example) -> list[str]:
        return rule_tags(recognizer, example) if recognizer else ["O"] * len(example.tokens)

    return [(token_features(ex.tokens, ex.word_ids, tags(ex)), ex.tags) for ex in examples]


def tag_scores(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """seqeval strict IOB2 micro P/R/F1 and per-label F1 of tag sequences."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    labels = {k: round(float(v["f1-score"]), 4) for k, v in report.items() if not k.endswith(" avg")}
    micro = report["micro avg"]
    return {"precision": round(float(micro["precision"]), 4), "recall": round(float(micro["recall"]), 4),
            "f1": round(float(micro["f1-score"]), 4), "per_label_f1": labels}


@dataclass(frozen=True)
class CrfSettings:
    c1: float
    c2: float
    max_iterations: int


def crf_grid(c1: list[float], c2: list[float], max_iterations: list[int]) -> list[CrfSettings]:
    """Every combination of the values given, in the order given (the first is the default's)."""
    return [CrfSettings(a, b, n) for a, b, n in itertools.product(c1, c2, max_iterations)]


def select_crf(train: list, dev: list, grid: list[CrfSettings], folder: Path,
               report: Callable[[str], None]) -> tuple[int, list[dict]]:
    """Fit one CRF per setting of `grid` on the `train` sequences, into `folder/<n>/`, and score each on the `dev`
    sequences (strict micro-F1 of the CRF alone); returns the index of the best (the first of equals) and a row
    per setting. Without dev sequences there is nothing to choose by: the grid must hold one setting."""
    rows = []
    for n, settings in enumerate(grid):
        started = time.perf_counter()
        step = max(1, settings.max_iterations // 4)
        where = (f"CRF {n + 1}/{len(grid)} (c1={settings.c1}, c2={settings.c2}, "
                 f"max_iterations={settings.max_iterations})")

        def progress(iteration: int) -> None:
            if iteration % step == 0:
                report(f"{where}: iteration {iteration}")

        model = CrfModel.train(train, folder / str(n), settings.c1, settings.c2, settings.max_iterations, progress)
        seconds = round(time.perf_counter() - started, 1)
        # The time stays out of the row: the row goes into the model card, and a model folder that differs from
        # run to run by its timings alone would make every `dvc repro` look like a new model.
        row = asdict(settings)
        if dev:
            scores = tag_scores([tags for _, tags in dev], [model.tag(features)[0] for features, _ in dev])
            row["dev_f1"] = scores["f1"]
            row["dev_scores"] = scores
        report(f"{where}: {'dev F1 ' + format(row['dev_f1'], '.4f') if dev else 'trained'} in {seconds} s")
        rows.append(row)
    best = max(range(len(rows)), key=lambda i: (rows[i].get("dev_f1", 0.0), -i))
    return best, rows


def train_crf(train: list[Example], dev: list[Example], out_dir: Path, grid: list[CrfSettings], card: dict, *,
              rule_features: bool = True, rule_labels: list[str] | None = None, refit: bool = False,
              report: Callable[[str], None] = silent) -> dict:
    """Train the CRF backend into a model folder, choosing its settings on dev; returns the dev scores of the CRF
    alone (strict IOB2) of the chosen setting, fitted on train (held-out scores), and the selection (every setting
    with its dev F1). With `refit`, the model written is the chosen setting fitted again on train and dev together.

    Args:
        grid: the settings to choose among (`crf_grid`); more than one needs dev examples.
        rule_features: whether the rule recognizer's tags are features (off: the CRF reads the text alone).
        rule_labels: the rule recognizer's labels merged with the CRF's spans in extraction; None: all of them
            when the training labels are among the rules' (vipie's label set), none otherwise (`merged_rule_labels`).
        refit: after the choice, fit the chosen setting on train and dev together (a model that learns from every
            writer it is given; its dev scores are then no longer held out).
        report: receives a line per step, for progress on a terminal.

    Raises:
        InputError: no training examples, or several settings and no dev examples to choose by.
    """
    from pipeline.provinces import default_resolver
    from pipeline.recognize.rules import RuleRecognizer

    if not train:
        raise InputError("no training examples; give --train files or a --dataset with a train split")
    if len(grid) > 1 and not dev:
        raise InputError(f"{len(grid)} CRF settings to choose among and no dev examples; give --dev files (or a "
                         "dataset with a dev split), or one value each of --c1, --c2 and --max-iterations")
    labels = entity_labels([*train, *dev])
    merged = merged_rule_labels(labels, LABEL_NAMES) if rule_labels is None else rule_labels
    recognizer = RuleRecognizer(default_resolver()) if rule_features else None
    started = time.perf_counter()
    train_sequences, dev_sequences = crf_sequences(recognizer, train), crf_sequences(recognizer, dev)
    report(f"features of {len(train)} train and {len(dev)} dev examples in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        best, rows = select_crf(train_sequences, dev_sequences, grid, Path(tmp), report)
        chosen_folder = Path(tmp) / str(best)
        if refit and dev:
            chosen = grid[best]
            report(f"fitting the chosen setting again on {len(train)} train and {len(dev)} dev examples")
            CrfModel.train(train_sequences + dev_sequences, Path(tmp) / "refit", chosen.c1, chosen.c2,
                           chosen.max_iterations)
            chosen_folder = Path(tmp) / "refit"
        config = {CRF_COMPONENT: {"rule_labels": merged, "rule_features": rule_features}}
        nlp = build_pipeline("crf", config)
        nlp.get_pipe(CRF_COMPONENT).use_model_file(chosen_folder / MODEL_FILE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        nlp.to_disk(out_dir, exclude=["vocab"])
    chosen = grid[best]
    metrics = {"dev_crf_tags": rows[best]["dev_scores"]} if dev else {}
    if len(grid) > 1:
        report(f"chosen on dev: c1={chosen.c1}, c2={chosen.c2}, max_iterations={chosen.max_iterations} "
               f"(dev F1 {rows[best]['dev_f1']:.4f})")
        metrics["selection"] = {"criterion": "dev strict micro-F1 of the CRF alone", "chosen": asdict(chosen),
                                "grid": [{k: v for k, v in row.items() if k != "dev_scores"} for row in rows]}
    write_card(out_dir, {"backend": "crf", "labels": labels, "params": asdict(chosen), "rule_features": rule_features,
                         "rule_labels_merged": merged, "train_examples": len(train), "dev_examples": len(dev),
                         "fit_on": "train+dev" if refit and dev else "train", **card,
                         "metrics": metrics})
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
