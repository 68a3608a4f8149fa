"""A cross-encoder that ranks a figure's candidates by reading each one with the figure: the transformer
backend's alternative to the feature rankers (`pipeline.facts.ranker`).

One (figure, candidate) pair is read as two segments. The first is the figure's sentence with the figure
between [F] … [/F] and, where the candidate was read from a mention, the mention between [C] … [/C]; a
mention outside the figure's sentence (the title, a paragraph's lead, a heading above a list) brings its own
sentence, in document order. Each sentence keeps only `reach` characters either side of its markers, so a
pair stays near 200 subwords however long the sentence. The second segment says what the candidate is:
"năm 2021", "Lào Cai (tỉnh của bài)", "năm đăng bài 2024", "Việt Nam (cả nước)", "không có". A sequence
classification head with one output scores the pair. Training takes, for each figure, the softmax
cross-entropy of its right candidates against all its candidates; choosing is as the feature ranker's: each
value keeps its best candidate, and the softmax over the values is the chosen value's probability.

The folder holds the model (safetensors), its tokenizer with the markers, and SETTINGS_FILE. Loading never
runs code from it and never downloads.
"""

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
    set_seed,
)

from pipeline.errors import InputError, ModelError
from pipeline.facts.candidates import Candidate, DocumentView, FigureView
from pipeline.recognize.transformer import from_base_model, optimizer_step, resolve_device

SETTINGS_FILE = "vipie_cross_encoder.json"
FIGURE_MARKERS = ("[F]", "[/F]")
CANDIDATE_MARKERS = ("[C]", "[/C]")
GAP = " … "
# About 50 syllables either side of a marked span: two sentences' excerpts stay near 200 subwords.
DEFAULT_REACH = 120
DEFAULT_MAX_LENGTH = 256
LINKER_OPTION = "--linker-base-model"


@dataclass(frozen=True)
class PairSettings:
    max_length: int  # subwords per pair, special tokens included; the first segment is cut if longer
    reach: int  # characters kept either side of a marked span in a sentence


def excerpt(text: str, region: tuple[int, int], marks: list[tuple[int, int, tuple[str, str]]], reach: int) -> str:
    """`text[region]` with each mark's markers around its span, keeping what lies within `reach` characters of a
    marked span (a left-out stretch between two kept ones is GAP), with runs of whitespace made one space.
    Marks lie inside `region` and do not overlap."""
    marks = sorted(marks)
    windows: list[tuple[int, int]] = []
    for start, end, _ in marks:
        low, high = max(region[0], start - reach), min(region[1], end + reach)
        if windows and low <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(high, windows[-1][1]))
        else:
            windows.append((low, high))
    pieces = []
    for low, high in windows:
        parts, cursor = [], low
        for start, end, (opening, closing) in marks:
            if low <= start < high:
                parts += [text[cursor:start], f" {opening} ", text[start:end], f" {closing} "]
                cursor = end
        parts.append(text[cursor:high])
        pieces.append(" ".join("".join(parts).split()))
    return GAP.join(pieces)


def describe(candidate: Candidate) -> str:
    """What a candidate is, in the words of an article (the second segment of its pair)."""
    if candidate.kind == "null":
        return "không có"
    if candidate.kind == "own":
        return f"{candidate.value} (tỉnh của bài)"
    if candidate.kind == "national":
        return f"{candidate.value} (cả nước)"
    if candidate.kind == "published":
        return f"năm đăng bài {candidate.value}"
    # A mention: years are numbers, provinces names.
    return f"năm {candidate.value}" if isinstance(candidate.value, int) else str(candidate.value)


def pair_text(document: DocumentView, figure: FigureView, candidate: Candidate, reach: int) -> tuple[str, str]:
    """The two segments a cross-encoder reads for one (figure, candidate) pair (see the module's docstring)."""
    metric = figure.metric
    sentence = (min(figure.sentence[0], metric.start), max(figure.sentence[1], metric.end))
    marks = [(metric.start, metric.end, FIGURE_MARKERS)]
    span = candidate.span
    elsewhere = None
    if span and (span[1] <= metric.start or metric.end <= span[0]):
        mark = (span[0], span[1], CANDIDATE_MARKERS)
        if sentence[0] <= span[0] and span[1] <= sentence[1]:
            marks.append(mark)
        else:
            home = document.sentence_of(span[0]) or span
            elsewhere = excerpt(document.text, (min(home[0], span[0]), max(home[1], span[1])), [mark], reach)
    first = excerpt(document.text, sentence, marks, reach)
    if elsewhere is not None:
        first = GAP.join([elsewhere, first] if span[0] < sentence[0] else [first, elsewhere])
    return first, describe(candidate)


def choose_by_value(candidates: Sequence[Candidate], scores: Sequence[float]) -> tuple[Candidate, float]:
    """The best-scored candidate and the softmax probability of its value among the values' best scores."""
    best: dict[object, tuple[float, Candidate]] = {}
    for candidate, z in zip(candidates, scores):
        if candidate.value not in best or z > best[candidate.value][0]:
            best[candidate.value] = (z, candidate)
    top, chosen = max(best.values(), key=lambda pair: pair[0])
    return chosen, 1.0 / sum(math.exp(z - top) for z, _ in best.values())


def figure_loss(scores: torch.Tensor, right: list[torch.Tensor]) -> torch.Tensor:
    """Mean over figures of -log p(a right candidate), p the softmax over the figure's candidates; `scores` holds the
    figures' candidates one figure after another, `right` a boolean mask per figure."""
    losses, offset = [], 0
    for mask in right:
        z = scores[offset : offset + len(mask)]
        offset += len(mask)
        losses.append(torch.logsumexp(z, 0) - torch.logsumexp(z[mask], 0))
    return torch.stack(losses).mean()


class CrossEncoderRanker:
    """A fine-tuned sequence classifier scoring (figure, candidate) pairs, with its tokenizer and settings.

    `training` holds what training reported (loss at the start and at the end, figures, epochs)."""

    def __init__(self, model, tokenizer, settings: PairSettings, training: dict | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.training = training or {}

    def scores(self, pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
        """One score per pair, in one batch padded to its longest pair."""
        firsts, seconds = zip(*pairs)
        encoded = self.tokenizer(list(firsts), list(seconds), truncation="only_first",
                                 max_length=self.settings.max_length, padding=True, return_tensors="pt")
        return self.model(**encoded.to(self.model.device)).logits[:, 0].float()

    @torch.inference_mode()
    def choose(self, candidates: Sequence[Candidate], document: DocumentView,
               figure: FigureView) -> tuple[Candidate, float]:
        """The best candidate for `figure` and the probability of its value among the candidates' values."""
        pairs = [pair_text(document, figure, candidate, self.settings.reach) for candidate in candidates]
        return choose_by_value(candidates, self.scores(pairs).tolist())

    @classmethod
    def train(cls, groups: Sequence[tuple[list[Candidate], DocumentView, FigureView, object]], *, base_model: str,
              epochs: int, learning_rate: float, seed: int = 13, device: str = "auto", figures_per_batch: int = 8,
              max_length: int = DEFAULT_MAX_LENGTH, reach: int = DEFAULT_REACH) -> "CrossEncoderRanker":
        """Fine-tune `base_model` on (candidates, document, figure, gold value) groups: `epochs` passes in batches of
        `figures_per_batch` figures, AdamW with a linear decay to zero; groups without both a right and a wrong
        candidate teach nothing and are left out.

        Raises:
            InputError: `epochs` is below 1.
            ModelError: no group has a right and a wrong candidate, or `base_model` cannot be loaded.
        """
        if epochs < 1:
            raise InputError(f"--linker-epochs {epochs}: give at least 1")
        set_seed(seed)
        figures = []
        for candidates, document, figure, gold in groups:
            right = torch.tensor([candidate.value == gold for candidate in candidates])
            if right.any() and not right.all():
                figures.append(([pair_text(document, figure, c, reach) for c in candidates], right))
        if not figures:
            raise ModelError("the linker needs figures with right and wrong candidates to train; give more gold facts")
        tokenizer = from_base_model(AutoTokenizer, base_model, option=LINKER_OPTION)
        tokenizer.add_special_tokens({"additional_special_tokens": [*FIGURE_MARKERS, *CANDIDATE_MARKERS]})
        model = from_base_model(AutoModelForSequenceClassification, base_model, option=LINKER_OPTION,
                                num_labels=1)
        model.resize_token_embeddings(len(tokenizer))
        ranker = cls(model.to(resolve_device(device)), tokenizer,
                     PairSettings(min(max_length, tokenizer.model_max_length), reach))
        steps_per_epoch = math.ceil(len(figures) / figures_per_batch)
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
        scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0,
                                                    num_training_steps=max(1, epochs * steps_per_epoch))
        generator = torch.Generator().manual_seed(seed)
        losses: list[float] = []
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(figures), generator=generator).tolist()
            for start in range(0, len(order), figures_per_batch):
                batch = [figures[i] for i in order[start : start + figures_per_batch]]
                loss = figure_loss(ranker.scores([pair for pairs, _ in batch for pair in pairs]),
                                   [right.to(model.device) for _, right in batch])
                losses.append(optimizer_step(loss, model, optimizer, scheduler))
        model.eval()
        n = min(steps_per_epoch, max(1, len(losses) // 2))
        ranker.training = {"figures": len(figures), "epochs": epochs, "learning_rate": learning_rate,
                           "train_loss_first": round(sum(losses[:n]) / n, 4),
                           "train_loss_last": round(sum(losses[-n:]) / n, 4)}
        return ranker

    def save(self, folder: Path) -> None:
        """Write the model (safetensors), the tokenizer and SETTINGS_FILE to `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        settings = {**asdict(self.settings), "training": self.training}
        (folder / SETTINGS_FILE).write_text(json.dumps(settings, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, device: str = "auto") -> "CrossEncoderRanker":
        """Raises ModelError: the folder lacks its settings, or transformers cannot load the model or tokenizer."""
        path = folder / SETTINGS_FILE
        rebuild = "rebuild it with `vipie train --linker cross-encoder`"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            settings = PairSettings(int(data["max_length"]), int(data["reach"]))
        except FileNotFoundError as exc:
            raise ModelError(f"{folder}: no {SETTINGS_FILE}; the cross-encoder is incomplete, {rebuild}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: not cross-encoder settings ({type(exc).__name__}: {exc}); {rebuild}") from exc
        # Never code from the folder: a model that needs it is refused, and nothing is downloaded.
        try:
            model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True,
                                                                       trust_remote_code=False)
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError, SafetensorError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ModelError(f"{folder}: transformers cannot load the cross-encoder ({reason}); vipie never runs "
                             f"code from a model folder, {rebuild}") from exc
        return cls(model.to(resolve_device(device)).eval(), tokenizer, settings, data.get("training"))
