"""`vipie prepare` and `vipie train`: datasets from gold, and NER models from datasets."""

import json
import sys
from pathlib import Path

import typer

from pipeline.cli import app
from pipeline.errors import InputError


@app.command()
def prepare(
    gold: list[Path] = typer.Option(..., "--gold", help="Gold JSONL files (CONTRACT.md format), or folders of them."),
    splits: Path = typer.Option(..., "--splits", help="JSON mapping split name to document ids."),
    out: Path = typer.Option(..., "--out", help="Folder for the DatasetDict."),
) -> None:
    """Turn gold documents and a split file into a Hugging Face DatasetDict on disk."""
    from pipeline.train import prepare_dataset

    summary = prepare_dataset(gold, splits, out)
    print(json.dumps(summary, ensure_ascii=False, indent=2))


def parse_label_map(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 for p in pairs):
        raise InputError(f"--label-map {text!r}: write it as SOURCE=TARGET,... (e.g. PER=OFFICIAL,ORG=AGENCY)")
    return {a.strip(): b.strip() for a, b in pairs}


def parse_values(option: str, text: str, kind: type) -> list:
    """The comma-separated values of a grid option ("0.05" or "0.02,0.05,0.1").

    Raises:
        InputError: a value is not a `kind`.
    """
    try:
        values = [kind(item) for item in text.split(",") if item.strip()]
    except ValueError:
        values = []
    if not values:
        raise InputError(f"{option} {text!r}: give a {kind.__name__} or several separated by commas (e.g. 0.05,0.1)")
    return values


def train_headline(metrics: dict) -> dict:
    """A few readable dev figures of a training run: the recognizer's strict F1, the CRF settings chosen, and the
    learned linker's oracle province, year and fact F1."""
    scores = {}
    for key in ("dev_crf_tags", "dev_transformer_tags"):
        if key in metrics:
            scores["dev_ner_f1"] = metrics[key]["f1"]
    if "selection" in metrics:
        scores.update({f"chosen_{k}": v for k, v in metrics["selection"]["chosen"].items()})
    learned = (metrics.get("linker") or {}).get("dev_oracle", {}).get("learned")
    if learned:
        scores.update({f"dev_linker_{k}": learned[k] for k in ("province", "year", "fact_f1")})
    return scores


def report(message: str) -> None:
    """Progress on stderr, so that stdout keeps the JSON summary."""
    print(f"vipie train: {message}", file=sys.stderr, flush=True)


@app.command()
def train(
    backend: str = typer.Option("crf", "--backend", help="crf (CPU default) or transformer."),
    dataset: Path | None = typer.Option(None, "--dataset", help="A DatasetDict folder from `vipie prepare`."),
    train_files: list[Path] = typer.Option([], "--train", help="Gold .jsonl or CoNLL files (instead of --dataset)."),
    dev_files: list[Path] = typer.Option([], "--dev", help="Gold .jsonl or CoNLL files for development scores."),
    out: Path = typer.Option(..., "--out", help="Model folder to write (e.g. models/NAME)."),
    label_map: str = typer.Option("", "--label-map", help="Rename CoNLL types, e.g. PER=OFFICIAL,ORG=AGENCY,LOC=LOCATION."),
    c1: str = typer.Option("0.05", "--c1", help="CRF L1 regularisation; several, comma-separated, are chosen among "
                           "on dev."),
    c2: str = typer.Option("0.01", "--c2", help="CRF L2 regularisation; several, comma-separated, are chosen among "
                           "on dev."),
    max_iterations: str = typer.Option("200", "--max-iterations", help="CRF L-BFGS iterations; several, "
                                       "comma-separated, are chosen among on dev."),
    fit_on: str = typer.Option("train", "--fit-on", help="What the model written learns from: train (dev stays held "
                               "out), or train+dev (CRF backend: the settings are chosen on dev, then the chosen "
                               "CRF and the fact linker are fitted on train and dev together)."),
    rule_features: bool = typer.Option(True, "--rule-features/--no-rule-features",
                                       help="CRF: the rule recognizer's tags as features (off: the text alone)."),
    base_model: str = typer.Option("xlm-roberta-base", "--base-model", help="Transformer: hub id or local folder."),
    epochs: float = typer.Option(3.0, "--epochs", help="Transformer: passes over the training data."),
    learning_rate: float = typer.Option(5e-5, "--learning-rate", help="Transformer: AdamW learning rate."),
    max_length: int = typer.Option(256, "--max-length", help="Transformer: subwords per window (PhoBERT: at most 256)."),
    stride: int = typer.Option(64, "--stride", help="Transformer: subwords shared by consecutive windows."),
    batch_size: int = typer.Option(8, "--batch-size", help="Transformer: windows per step."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Transformer: stop after this many steps."),
    seed: int = typer.Option(13, "--seed", help="Random seed."),
    device: str = typer.Option("auto", "--device", help="Transformer and cross-encoder linker: cpu, cuda or auto."),
    linker: str = typer.Option("learned", "--linker", help="Fact linker: learned (feature rankers trained on the gold "
                               "facts), cross-encoder (transformer rankers, with --linker-base-model) or rules."),
    linker_c: float = typer.Option(1.0, "--linker-c", help="Learned linker: inverse L2 regularisation of its rankers."),
    linker_base_model: str | None = typer.Option(None, "--linker-base-model",
                                                 help="Cross-encoder linker: local folder or cached hub id."),
    linker_epochs: int = typer.Option(3, "--linker-epochs", help="Cross-encoder linker: passes over the gold facts."),
    linker_learning_rate: float = typer.Option(3e-5, "--linker-learning-rate",
                                               help="Cross-encoder linker: AdamW learning rate."),
    metrics_out: Path | None = typer.Option(None, "--metrics", help="Also write a few headline dev figures as JSON "
                                            "here (DVC metrics; the model card holds them all)."),
) -> None:
    """Train an NER backend and the fact linker, and write a model folder usable by `vipie extract --model`."""
    from pipeline.document import read_gold_documents
    from pipeline.model import read_card, write_card
    from pipeline.train import (
        CONLL_WORD_IDS,
        attach_linker,
        crf_grid,
        dataset_documents,
        load_splits,
        read_examples,
        train_crf,
    )
    from pipeline.training_data import data_hash

    if backend not in ("crf", "transformer"):
        raise InputError(f"--backend {backend!r}: choose crf or transformer")
    if fit_on not in ("train", "train+dev"):
        raise InputError(f"--fit-on {fit_on!r}: choose train or train+dev")
    if fit_on == "train+dev" and backend != "crf":
        raise InputError("--fit-on train+dev is for the CRF backend; a transformer keeps dev for its own scores")
    if linker not in ("learned", "cross-encoder", "rules"):
        raise InputError(f"--linker {linker!r}: choose learned, cross-encoder or rules")
    if (linker == "cross-encoder") != bool(linker_base_model):
        raise InputError("--linker cross-encoder and --linker-base-model DIR_OR_HUB_ID go together; "
                         "give both or neither")
    cross_encoder = None
    if linker == "cross-encoder":
        from pipeline.facts.cross_encoder import LINKER_OPTION
        from pipeline.recognize.transformer import check_base_model

        if linker_epochs < 1:
            raise InputError(f"--linker-epochs {linker_epochs}: give at least 1")
        # Checked now, before the NER trains: a base model that cannot be read would fail only hours later.
        check_base_model(linker_base_model, LINKER_OPTION)
        cross_encoder = {"base_model": linker_base_model, "epochs": linker_epochs,
                         "learning_rate": linker_learning_rate, "device": device}
    if bool(dataset) == bool(train_files):
        raise InputError("give either --dataset or --train files")
    grid = crf_grid(parse_values("--c1", c1, float), parse_values("--c2", c2, float),
                    parse_values("--max-iterations", max_iterations, int))
    if backend == "transformer":
        from pipeline.recognize.transformer import check_base_model

        # Checked before any example is built: a base model that is not there fails in a second, not minutes.
        check_base_model(base_model)
    problems: list[str] = []
    report("reading the training data")
    if dataset:
        splits = load_splits(dataset)
        train_examples, dev_examples = splits.get("train", []), splits.get("dev", [])
        source = {"dataset": str(dataset), "data_hash": data_hash(p for p in dataset.rglob("*") if p.is_file())}
        linker_train, linker_dev = dataset_documents(dataset, "train"), dataset_documents(dataset, "dev")
    else:
        mapping = parse_label_map(label_map)
        train_examples = read_examples(train_files, mapping, problems)
        dev_examples = read_examples(dev_files, mapping, problems) if dev_files else []
        source = {"train_files": [str(p) for p in train_files], "data_hash": data_hash(train_files)}
        if any(path.suffix != ".jsonl" for path in [*train_files, *dev_files]):
            source["conll_word_ids"] = CONLL_WORD_IDS
        linker_train = [doc for path in train_files if path.suffix == ".jsonl" for doc in read_gold_documents(path)]
        linker_dev = [doc for path in dev_files if path.suffix == ".jsonl" for doc in read_gold_documents(path)]
    for problem in problems:
        print(f"vipie: {problem}")
    refit = fit_on == "train+dev"
    if refit and not dev_examples:
        raise InputError("--fit-on train+dev and no dev examples; give --dev files or a dataset with a dev split")
    card = {**source, "alignment_problems": len(problems), "seed": seed}
    if backend == "crf":
        metrics = train_crf(train_examples, dev_examples, out, grid, card, rule_features=rule_features, refit=refit,
                            report=report)
    else:
        from pipeline.recognize.transformer import train_transformer

        metrics = train_transformer(train_examples, dev_examples, out, base_model=base_model, epochs=epochs,
                                    learning_rate=learning_rate, max_length=max_length, stride=stride,
                                    batch_size=batch_size, seed=seed, device=device, max_steps=max_steps, card=card)
    if linker != "rules":
        report("training the fact linker")
        metrics["linker"] = attach_linker(out, linker_train, linker_dev, linker_c, seed, cross_encoder)
        if refit:
            # The dev figures above stay those of the linker fitted on train (held out, comparable across runs);
            # the model keeps the one fitted on train and dev together.
            report("fitting the fact linker again on train and dev together")
            held_out = metrics["linker"].get("dev_oracle")
            metrics["linker"] = attach_linker(out, linker_train + linker_dev, [], linker_c, seed, cross_encoder)
            if held_out:
                metrics["linker"].update(dev_oracle=held_out, dev_oracle_fit_on="train")
        write_card(out, {**read_card(out), "metrics": metrics})
    if metrics_out:
        metrics_out.parent.mkdir(parents=True, exist_ok=True)
        metrics_out.write_text(json.dumps(train_headline(metrics), indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"out": str(out), **metrics}, ensure_ascii=False, indent=2))
