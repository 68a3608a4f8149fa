"""A fine-tuned transformer token classifier (PhoBERT, XLM-R, multilingual BERT): the GPU backend.

A paragraph is read as a sequence of units: its syllables, or, for PhoBERT, which was pre-trained on
word-segmented text, its "_"-joined words from the underthesea segmentation. Units are tokenized one by
one, because PhoBERT's tokenizer is a slow one with no word_ids() or offset mapping; the first subword of a
unit carries its label. A sequence longer than the model's window is read in overlapping windows, and each
unit takes the prediction of the window where it has the most context. The component folder holds the
Hugging Face model (safetensors), its tokenizer and INPUT_FILE (input view, window length, stride).
"""

import json
import math
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from spacy.tokens import Doc
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
    set_seed,
)

from pipeline.components import set_merged_ents
from pipeline.errors import InputError, ModelError
from pipeline.labels import LABEL_NAMES
from pipeline.model import build_pipeline, write_card
from pipeline.recognize.merge import merged_rule_labels, tagged_spans
from pipeline.train import tag_scores
from pipeline.training_data import Example, entity_labels, paragraph_examples, tag_names

INPUT_FILE = "vipie_input.json"
WEIGHTS_FILE = "model.safetensors"
SOURCE = "transformer"
SYLLABLES, WORDS = "syllables", "words"
# PhoBERT has 258 position embeddings: 256 subwords once RoBERTa's padding offset is taken off.
PHOBERT_MAX_LENGTH = 256
# The label CrossEntropyLoss skips: subwords after a unit's first, and special tokens.
IGNORE = -100
# Special tokens around one window: [CLS] ... [SEP] or <s> ... </s>.
SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class InputSettings:
    view: str  # SYLLABLES or WORDS
    max_length: int  # subwords per window, special tokens included
    stride: int  # subwords consecutive windows share


def resolve_device(device: str) -> torch.device:
    """`auto` is cuda when available, else cpu; any other name is torch's.

    Raises:
        InputError: cuda is asked for on a machine without it.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: no CUDA device on this machine; use cpu or auto")
    return torch.device(device)


def is_phobert(base_model: str, config, tokenizer) -> bool:
    """Whether the base model is PhoBERT, by its name, its config's tokenizer class or its tokenizer's class."""
    names = [base_model, getattr(config, "tokenizer_class", None) or "", type(tokenizer).__name__]
    return any("phobert" in name.lower() for name in names)


def example_units(example: Example, view: str) -> tuple[list[str], list[str], list[int]]:
    """The units an example is read as, their tags, and for each syllable the index of its unit.

    SYLLABLES: one unit per syllable. WORDS: consecutive syllables with the same word id joined by "_",
    tagged with the tag of their first syllable.
    """
    if view == SYLLABLES:
        return list(example.tokens), list(example.tags), list(range(len(example.tokens)))
    units, tags, unit_of = [], [], []
    for i, (token, word_id) in enumerate(zip(example.tokens, example.word_ids)):
        if i == 0 or word_id != example.word_ids[i - 1]:
            units.append(token)
            tags.append(example.tags[i])
        else:
            units[-1] += "_" + token
        unit_of.append(len(units) - 1)
    return units, tags, unit_of


def syllable_tags(unit_tags: list[str], unit_of: list[int]) -> list[str]:
    """Syllable tags from unit tags: a unit's first syllable takes its tag, the others continue it (I-) or stay O."""
    tags = []
    for i, unit in enumerate(unit_of):
        tag = unit_tags[unit]
        if i > 0 and unit_of[i - 1] == unit and tag != "O":
            tag = "I-" + tag.partition("-")[2]
        tags.append(tag)
    return tags


def unit_subwords(tokenizer, units: list[str], max_subwords: int) -> list[list[int]]:
    """Subword ids of each unit, tokenized on its own and cut to `max_subwords` (one window's worth).

    A unit the tokenizer drops entirely (a zero-width character) becomes the unknown token, so that every
    unit has a first subword to carry its label.
    """
    if not units:
        return []
    encoded = tokenizer(units, add_special_tokens=False)["input_ids"]
    return [(ids or [tokenizer.unk_token_id])[:max_subwords] for ids in encoded]


def align_labels(tokenizer, unit_ids: list[list[int]], labels: list[int]) -> tuple[list[int], list[int]]:
    """Input ids of one window, [CLS] + the units' subwords + [SEP], and a label for each position: a unit's
    label on its first subword, IGNORE on its other subwords and on the special tokens.

    Pass unit indices as `labels` to find where each unit's first subword lies.
    """
    input_ids, aligned = [tokenizer.cls_token_id], [IGNORE]
    for ids, label in zip(unit_ids, labels):
        input_ids += ids
        aligned += [label] + [IGNORE] * (len(ids) - 1)
    return input_ids + [tokenizer.sep_token_id], aligned + [IGNORE]


def split_windows(lengths: list[int], max_subwords: int, stride: int) -> list[tuple[int, int]]:
    """Windows over a sequence of units, as unit ranges `[first, last)` in order, covering every unit.

    `lengths` gives each unit's subword count, none over `max_subwords`. A window holds as many whole units
    as fit in `max_subwords`; the next one goes back to share at most `stride` subwords with it, but always
    starts after it does.
    """
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(lengths):
        last, size = first, 0
        while last < len(lengths) and size + lengths[last] <= max_subwords:
            size += lengths[last]
            last += 1
        windows.append((first, last))
        if last == len(lengths):
            break
        following, shared = last, 0
        while following - 1 > first and shared + lengths[following - 1] <= stride:
            following -= 1
            shared += lengths[following]
        first = following
    return windows


def choose_windows(windows: list[tuple[int, int]], lengths: list[int]) -> list[int]:
    """For each unit, the index of the window where it lies furthest from a cut: the one with the most
    subwords between the unit and the nearer window edge, where the sequence's own start and end count as
    no edge. Ties go to the earlier window."""
    before = [0]
    for length in lengths:
        before.append(before[-1] + length)
    chosen, best = [0] * len(lengths), [-1.0] * len(lengths)
    for w, (first, last) in enumerate(windows):
        for unit in range(first, last):
            left = before[unit] - before[first] if first > 0 else math.inf
            right = before[last] - before[unit + 1] if last < len(lengths) else math.inf
            if min(left, right) > best[unit]:
                chosen[unit], best[unit] = w, min(left, right)
    return chosen


def encode_windows(tokenizer, units: list[str], labels: list[int], settings: InputSettings):
    """Windows of a unit sequence as (input ids, labels) pairs from `align_labels`, and for each unit the
    window whose prediction it takes."""
    body = settings.max_length - SPECIAL_TOKENS
    unit_ids = unit_subwords(tokenizer, units, body)
    lengths = [len(ids) for ids in unit_ids]
    windows = split_windows(lengths, body, settings.stride)
    encoded = [align_labels(tokenizer, unit_ids[first:last], labels[first:last]) for first, last in windows]
    return encoded, choose_windows(windows, lengths)


def merge_windows(positions: list[list[int]], outputs: list, chosen: list[int]) -> list:
    """Per unit, the output at its first subword in the window chosen for it; `positions` are the windows'
    labels from `align_labels` called with unit indices."""
    merged = [None] * len(chosen)
    for w, (units, output) in enumerate(zip(positions, outputs)):
        for position, unit in enumerate(units):
            if unit != IGNORE and chosen[unit] == w:
                merged[unit] = output[position]
    return merged


def collate(windows: list[tuple[list[int], list[int]]], pad_id: int, device: torch.device) -> dict:
    """A padded batch (dynamic padding: to the longest window of the batch) with labels IGNORE on padding."""
    width = max(len(ids) for ids, _ in windows)
    input_ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(windows), width), dtype=torch.long)
    labels = torch.full((len(windows), width), IGNORE, dtype=torch.long)
    for row, (ids, window_labels) in enumerate(windows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
        labels[row, : len(ids)] = torch.tensor(window_labels)
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device), "labels": labels.to(device)}


class TransformerTagger:
    """A token classification model with its tokenizer and input settings: tag examples, save, load."""

    def __init__(self, model, tokenizer, settings: InputSettings):
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings

    @classmethod
    def load(cls, model_dir: Path, device: torch.device) -> "TransformerTagger":
        settings = InputSettings(**json.loads((model_dir / INPUT_FILE).read_text(encoding="utf-8")))
        # Never code from the folder: a model that needs it is refused, and no prompt offers to run it.
        try:
            model = AutoModelForTokenClassification.from_pretrained(model_dir, trust_remote_code=False)
            tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        except ValueError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{model_dir}: transformers cannot load it ({reason}); vipie never runs code from a model "
                             "folder, rebuild it with `vipie train --backend transformer`") from exc
        return cls(model.to(device).eval(), tokenizer, settings)

    def save(self, model_dir: Path) -> None:
        """Write the model (safetensors), the tokenizer and INPUT_FILE to `model_dir`."""
        model_dir.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(model_dir)
        self.tokenizer.save_pretrained(model_dir)
        (model_dir / INPUT_FILE).write_text(json.dumps(asdict(self.settings)) + "\n", encoding="utf-8")

    def training_windows(self, examples: list[Example]) -> list[tuple[list[int], list[int]]]:
        """(input ids, labels) windows of every example; labels are ids of the model's label2id."""
        label2id = self.model.config.label2id
        windows = []
        for example in examples:
            units, tags, _ = example_units(example, self.settings.view)
            windows += encode_windows(self.tokenizer, units, [label2id[t] for t in tags], self.settings)[0]
        return windows

    @torch.inference_mode()
    def tag(self, examples: list[Example], batch_size: int) -> list[tuple[list[str], list[float]]]:
        """For each example, a tag per syllable and its softmax probability (a word's, in the words view)."""
        self.model.eval()
        device = self.model.device
        sequences = []
        for example in examples:
            units, _, unit_of = example_units(example, self.settings.view)
            windows, chosen = encode_windows(self.tokenizer, units, list(range(len(units))), self.settings)
            sequences.append((windows, chosen, unit_of))
        flat = [window for windows, _, _ in sequences for window in windows]
        probabilities = []
        for start in range(0, len(flat), batch_size):
            batch = collate(flat[start : start + batch_size], self.tokenizer.pad_token_id, device)
            logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            probabilities += list(torch.softmax(logits.float(), dim=-1).cpu())
        id2label = self.model.config.id2label
        results, offset = [], 0
        for windows, chosen, unit_of in sequences:
            outputs = probabilities[offset : offset + len(windows)]
            offset += len(windows)
            per_unit = merge_windows([labels for _, labels in windows], outputs, chosen)
            best = [p.max(dim=-1) for p in per_unit]
            unit_tags = [id2label[int(b.indices)] for b in best]
            results.append((syllable_tags(unit_tags, unit_of), [float(best[u].values) for u in unit_of]))
        return results


class TransformerEntityRecognizer:
    """Tags paragraphs with a fine-tuned transformer and merges its spans with the rules' spans of `rule_labels`."""

    def __init__(self, precedence: dict[str, list[str]], device: str, batch_size: int, rule_labels: list[str]):
        self.precedence = precedence
        self.rule_labels = rule_labels
        self.device = device
        self.batch_size = batch_size
        self.tagger: TransformerTagger | None = None
        self.model_path: Path | None = None

    def __call__(self, doc: Doc) -> Doc:
        if self.tagger is None:
            raise ModelError("the transformer recognizer has no fine-tuned model; load a model folder made by "
                             "`vipie train --backend transformer`")
        examples = paragraph_examples(doc)
        spans = []
        for example, (tags, probabilities) in zip(examples, self.tagger.tag(examples, self.batch_size)):
            spans.extend(tagged_spans(example.starts, example.ends, tags, probabilities, SOURCE))
        set_merged_ents(doc, spans, self.precedence, self.rule_labels)
        return doc

    def use_model_dir(self, model_dir: Path) -> None:
        """Load the fine-tuned model, tokenizer and input settings saved in `model_dir`."""
        self.model_path = Path(model_dir)
        self.tagger = TransformerTagger.load(self.model_path, resolve_device(self.device))

    def to_disk(self, path, *, exclude=()):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.tagger and (self.model_path is None or self.model_path.resolve() != path.resolve()):
            self.tagger.save(path)

    def from_disk(self, path, *, exclude=()):
        path = Path(path)
        missing = [name for name in ("config.json", WEIGHTS_FILE, INPUT_FILE) if not (path / name).is_file()]
        if missing:
            raise ModelError(f"{path}: no {', '.join(missing)}; the model folder is incomplete, rebuild it with "
                             "`vipie train --backend transformer`")
        self.use_model_dir(path)
        return self


def from_base_model(auto_class, base_model: str, *, option: str = "--base-model", **kwargs):
    """`auto_class.from_pretrained(base_model, **kwargs)` from local files only: `base_model` is a local folder, or a
    hub id already in the Hugging Face cache. Nothing is downloaded, so a machine without network fails at once
    (the hub client would retry for about a minute), and no code from the model is run. `option` is the CLI flag
    that named the base model, for the error message.

    Raises:
        ModelError: `base_model` is neither, or transformers cannot load the folder.
    """
    try:
        return auto_class.from_pretrained(base_model, local_files_only=True, trust_remote_code=False, **kwargs)
    except (OSError, ValueError) as exc:
        folder = "LOCAL_DIR, a folder with the model's config.json, tokenizer files and weights"
        if Path(base_model).is_dir():
            reason = " ".join(str(exc).split()) or type(exc).__name__  # transformers' reasons run over lines
            raise ModelError(f"{option} {base_model}: transformers cannot load this folder ({reason}); "
                             f"pass {option} {folder}") from exc
        raise ModelError(f"{option} {base_model}: no such folder, nor a model of that name in the Hugging Face "
                         f"cache (vipie never downloads); pass {option} {folder} (`hf download ID --local-dir "
                         "LOCAL_DIR` makes one where a network reaches the hub)") from exc


def check_base_model(base_model: str, option: str = "--base-model") -> None:
    """Raises ModelError, naming `option`, when `base_model` cannot be read from local files (its config is read,
    not its weights): called before any training example is built, so a missing model fails in a second, not after
    minutes."""
    from_base_model(AutoConfig, base_model, option=option)


def optimizer_step(loss, model, optimizer, scheduler) -> float:
    """One step of AdamW on `loss`; returns the loss. Gradients are clipped as Hugging Face's Trainer does by default:
    a few bad batches early on cannot blow up a freshly initialised head."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return loss.item()


def fine_tune(train: list[Example], labels: list[str], *, base_model: str, epochs: float, learning_rate: float,
              max_length: int, stride: int, batch_size: int, seed: int, device: str,
              max_steps: int | None) -> tuple[TransformerTagger, dict]:
    """Fine-tune `base_model` (a hub id or a local folder) to tag `train`; returns the tagger, in eval mode
    on `device`, and the training loss at the start and at the end: `train_loss_first` and `train_loss_last`,
    means over the first and the last epoch's worth of steps (half the steps each, on a shorter run).

    Steps: `epochs` passes over the training windows, at most `max_steps`. AdamW with a linear decay to zero.

    Raises:
        InputError: the examples hold no tokens, or `stride` leaves no room for a window to move on.
        ModelError: `base_model` is not a local folder or a cached hub model that transformers can load.
    """
    set_seed(seed)
    torch_device = resolve_device(device)
    tokenizer = from_base_model(AutoTokenizer, base_model)
    config = from_base_model(AutoConfig, base_model)
    phobert = is_phobert(base_model, config, tokenizer)
    # The tokenizer's limit is the model's (512 for BERT and XLM-R); a hub PhoBERT says 256 too, a copy may not.
    limit = min(tokenizer.model_max_length, PHOBERT_MAX_LENGTH) if phobert else tokenizer.model_max_length
    max_length = min(max_length, limit)
    if not 0 <= stride < max_length - SPECIAL_TOKENS:
        raise InputError(f"--stride {stride}: give fewer subwords than a window holds ({max_length - SPECIAL_TOKENS} "
                         f"with --max-length {max_length} for {base_model})")
    model = from_base_model(AutoModelForTokenClassification, base_model, num_labels=len(labels),
                            id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})
    tagger = TransformerTagger(model.to(torch_device), tokenizer,
                               InputSettings(WORDS if phobert else SYLLABLES, max_length, stride))
    windows = tagger.training_windows(train)
    if not windows:
        raise InputError("the training examples hold no tokens; check the --train files or the dataset")
    steps_per_epoch = math.ceil(len(windows) / batch_size)
    total = math.ceil(epochs * steps_per_epoch)
    total = max(1, min(total, max_steps) if max_steps is not None else total)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=total)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    model.train()
    while len(losses) < total:
        order = torch.randperm(len(windows), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batch = collate([windows[i] for i in order[start : start + batch_size]], tokenizer.pad_token_id,
                            torch_device)
            losses.append(optimizer_step(model(**batch).loss, model, optimizer, scheduler))
            if len(losses) == total:
                break
    model.eval()
    n = max(1, min(steps_per_epoch, len(losses) // 2))
    return tagger, {"train_loss_first": round(sum(losses[:n]) / n, 4),
                    "train_loss_last": round(sum(losses[-n:]) / n, 4)}


def train_transformer(train: list[Example], dev: list[Example], out_dir: Path, *, base_model: str, epochs: float,
                      learning_rate: float, max_length: int, stride: int, batch_size: int, seed: int, device: str,
                      max_steps: int | None, card: dict) -> dict:
    """Fine-tune the transformer backend into a model folder; returns the training loss at the start and end
    (as `fine_tune`) and, with dev examples, `dev_transformer_tags`: scores of the transformer alone (seqeval
    strict IOB2 over syllable tags).

    Raises:
        InputError: no training examples, none with tokens, or a stride as long as the window.
    """
    if not train:
        raise InputError("no training examples; give --train files or a --dataset with a train split")
    labels = entity_labels([*train, *dev])
    tagger, metrics = fine_tune(train, tag_names([*train, *dev]), base_model=base_model, epochs=epochs,
                                learning_rate=learning_rate, max_length=max_length, stride=stride,
                                batch_size=batch_size, seed=seed, device=device, max_steps=max_steps)
    if dev:
        predicted = [tags for tags, _ in tagger.tag(dev, batch_size)]
        metrics["dev_transformer_tags"] = tag_scores([ex.tags for ex in dev], predicted)
    with tempfile.TemporaryDirectory() as tmp:
        tagger.save(Path(tmp))
        merged = merged_rule_labels(labels, LABEL_NAMES)
        nlp = build_pipeline("transformer", {"vipie_transformer_recognizer": {"rule_labels": merged}})
        nlp.get_pipe("vipie_transformer_recognizer").use_model_dir(Path(tmp))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        nlp.to_disk(out_dir, exclude=["vocab"])
    params = {"epochs": epochs, "learning_rate": learning_rate, "max_length": tagger.settings.max_length,
              "stride": stride, "batch_size": batch_size, "max_steps": max_steps,
              "device": str(resolve_device(device))}
    write_card(out_dir, {"backend": "transformer", "labels": labels, "rule_labels_merged": merged,
                         "base_model": base_model, "input_view": tagger.settings.view,
                         "params": params, "train_examples": len(train), "dev_examples": len(dev), **card,
                         "metrics": metrics})
    return metrics
