"""Training examples for the NER backends, from gold JSONL or CoNLL files, as a Hugging Face `DatasetDict`.

One example per paragraph: its syllable tokens (vipie's tokenizer, whitespace
dropped), their character offsets in the document, IOB2 tags, and the index
of the word (underthesea segmentation) each syllable belongs to. Both
backends read the same features: the CRF per syllable, the transformer per
syllable or per "_"-joined word, as its base model expects. Gold spans that do
not align to tokens are reported with their text, never moved or dropped
silently.
"""

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from pipeline.errors import InputError
from pipeline.labels import LABEL_NAMES


@dataclass
class Example:
    id: str
    tokens: list[str]
    tags: list[str]
    word_ids: list[int]
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)


def tag_tokens(starts: list[int], ends: list[int], entities: Iterable[dict], text: str, where: str,
               problems: list[str]) -> list[str]:
    """IOB2 tags for tokens at (starts, ends); an entity whose edges fall inside a token is reported."""
    first_at = {s: i for i, s in enumerate(starts)}
    last_at = {e: i for i, e in enumerate(ends)}
    tags = ["O"] * len(starts)
    for entity in entities:
        first, last = first_at.get(entity["start"]), last_at.get(entity["end"])
        if first is None or last is None:
            problems.append(f"{where}: {entity['label']} {text[entity['start']:entity['end']]!r} at "
                            f"[{entity['start']}, {entity['end']}) does not align to tokens")
            continue
        tags[first] = f"B-{entity['label']}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{entity['label']}"
    return tags


def paragraph_examples(doc, id_prefix: str = "") -> list[Example]:
    """An untagged example of each paragraph (`doc.spans["paragraphs"]`) of a segmented Doc: syllables, offsets,
    word ids; the ids are `id_prefix` and the paragraph's number.

    Read from the Doc's arrays (token offsets, lengths, the segmenter's `doc._.word_tags`), once per Doc and not
    token by token: a Token object per syllable costs more than the rest of the example."""
    from spacy.attrs import IDX, IS_SPACE, LENGTH

    from pipeline.segment import NO_WORD, WORD_TAGS
    from pipeline.tokenize import doc_text

    text = doc_text(doc)
    tags = doc._.get(WORD_TAGS) or [NO_WORD] * len(doc)
    rows = doc.to_array([IDX, LENGTH, IS_SPACE]).tolist() if len(doc) else []
    examples = []
    for n, paragraph in enumerate(doc.spans.get("paragraphs", [])):
        kept = [(start, start + length, bio) for (start, length, is_space), (_, bio)
                in zip(rows[paragraph.start : paragraph.end], tags[paragraph.start : paragraph.end]) if not is_space]
        starts, ends = [start for start, _, _ in kept], [end for _, end, _ in kept]
        # A word id for each syllable: the next one at each syllable that does not continue a word.
        word_ids = list(accumulate((bio != "I" for _, _, bio in kept), initial=-1))[1:]
        tokens = [text[start:end] for start, end, _ in kept]
        examples.append(Example(f"{id_prefix}{n}", tokens, ["O"] * len(tokens), word_ids, starts, ends))
    return examples


def doc_examples(structure_nlp, doc: dict, problems: list[str]) -> list[Example]:
    """Paragraph examples of one gold document; `structure_nlp` runs layout and word segmentation only."""
    from pipeline import process

    spacy_doc = process(structure_nlp, doc["text"], doc.get("meta"))
    examples = paragraph_examples(spacy_doc, f"{doc['id']}#")
    for n, (paragraph, example) in enumerate(zip(spacy_doc.spans.get("paragraphs", []), examples)):
        inside = [e for e in doc["entities"] if paragraph.start_char <= e["start"] and e["end"] <= paragraph.end_char]
        example.tags = tag_tokens(example.starts, example.ends, inside, doc["text"], f"{doc['id']} paragraph {n}",
                                  problems)
    return examples


def read_gold_examples(structure_nlp, paths: Iterable[Path], problems: list[str]) -> list[Example]:
    """Examples from gold JSONL files (CONTRACT.md format); documents with errors are skipped."""
    from pipeline.document import read_gold_documents

    return [example for path in paths for doc in read_gold_documents(path) if not doc.get("errors")
            for example in doc_examples(structure_nlp, doc, problems)]


def read_conll(path: Path, label_map: dict[str, str] | None = None) -> list[Example]:
    """Examples from a CoNLL file: one token per line (first column), its BIO tag last, blank lines between
    sentences. Tokens may be syllables or "_"-joined words (VLSP 2016, PhoNER_COVID19); a word is split into
    syllables, the first keeping the word's tag and the rest continuing it. Tokens are read in NFC, as vipie reads
    every text (a file in another form would index other characters). `label_map` renames entity types
    (e.g. {"PER": "OFFICIAL"}); unmapped types are kept as they are.

    Raises:
        InputError: the file is missing or a line has no tag.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such CoNLL file")
    label_map = label_map or {}
    examples: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    word_ids: list[int] = []

    def flush():
        if tokens:
            examples.append(Example(f"{path.stem}#{len(examples)}", tokens[:], tags[:], word_ids[:]))
            tokens.clear(), tags.clear(), word_ids.clear()

    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            columns = line.split()
            if not columns or line.startswith("-DOCSTART-"):
                flush()
                continue
            if len(columns) < 2:
                raise InputError(f"{path}:{line_no}: a CoNLL line needs a token and a tag")
            word, tag = unicodedata.normalize("NFC", columns[0]), columns[-1]
            prefix, _, label = tag.partition("-")
            label = label_map.get(label, label)
            word_id = word_ids[-1] + 1 if word_ids else 0
            for i, syllable in enumerate(word.split("_")):
                tokens.append(syllable)
                word_ids.append(word_id)
                if prefix == "O" or not label:
                    tags.append("O")
                else:
                    tags.append(f"{prefix if i == 0 else 'I'}-{label}")
    flush()
    return examples


def label_order(found: Iterable[str]) -> list[str]:
    """Labels in the order reports and model cards list them: vipie's in their order, then any other sorted."""
    found = set(found)
    return [label for label in LABEL_NAMES if label in found] + sorted(found - set(LABEL_NAMES))


def entity_labels(examples: Iterable[Example]) -> list[str]:
    """The entity labels the examples' tags use (`label_order`): the label set a model trained on them knows,
    written to its card."""
    return label_order(tag.partition("-")[2] for ex in examples for tag in ex.tags if tag != "O")


def tag_names(examples: Iterable[Example]) -> list[str]:
    """The IOB2 tag set of the examples' labels: "O", then B- and I- of each label of `entity_labels`."""
    return ["O", *(f"{prefix}-{label}" for label in entity_labels(examples) for prefix in ("B", "I"))]


def to_dataset_dict(splits: dict[str, list[Example]]):
    """A `datasets.DatasetDict` with the same features for every split and backend."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    names = tag_names(ex for examples in splits.values() for ex in examples)
    features = Features({
        "id": Value("string"), "tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=names)),
        "word_ids": Sequence(Value("int32")), "starts": Sequence(Value("int32")), "ends": Sequence(Value("int32")),
    })
    return DatasetDict({
        split: Dataset.from_dict({
            "id": [ex.id for ex in examples], "tokens": [ex.tokens for ex in examples],
            "ner_tags": [[names.index(t) for t in ex.tags] for ex in examples],
            "word_ids": [ex.word_ids for ex in examples], "starts": [ex.starts for ex in examples],
            "ends": [ex.ends for ex in examples],
        }, features=features)
        for split, examples in splits.items()
    })


def examples_from_dataset(dataset) -> list[Example]:
    names = dataset.features["ner_tags"].feature.names
    return [Example(row["id"], row["tokens"], [names[t] for t in row["ner_tags"]], row["word_ids"], row["starts"],
                    row["ends"]) for row in dataset]


def data_hash(paths: Iterable[Path]) -> str:
    """A short content hash of training files, recorded in model cards."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
