"""Build tiny, randomly initialised base models for testing the transformer backend offline.

    python scripts/build_tiny_models.py OUT_DIR [TEXTS.jsonl ...]

Writes OUT_DIR/tiny-bert (BertConfig, WordPiece), OUT_DIR/tiny-roberta (RobertaConfig, byte-level BPE) and
OUT_DIR/tiny-phobert (RobertaConfig with PhoBERT's slow fastBPE tokenizer, read as "_"-joined words), each
loadable with AutoModelForTokenClassification / AutoTokenizer. Tokenizers are trained on the `text` of the
JSONL documents given (default: annotations/composed/*.jsonl when present, else a few built-in sentences).
The seed documents are evaluation data and are refused. Nothing is downloaded.
"""

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILTIN_TEXTS = [
    "UBND tỉnh Lào Cai tổ chức hội nghị sơ kết một năm triển khai chính quyền điện tử.",
    "Năm 2022, tỉnh Bình Định cung cấp 1.726 dịch vụ công trực tuyến, tỷ lệ hồ sơ đúng hạn đạt 98,6%.",
    "Phó Chủ tịch UBND tỉnh Lê Văn Tùng chủ trì hội nghị tại Sở Thông tin và Truyền thông.",
    "Theo Quyết định số 42/2022/QĐ-UBND, Trung tâm Phục vụ hành chính công tiếp nhận hơn 286.000 hồ sơ.",
    "Chỉ số chuyển đổi số cấp tỉnh (DTI) năm 2022 của Thanh Hóa xếp thứ 13/63 tỉnh, thành phố.",
]
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
VOCAB_SIZE = 2000
# Small enough to fine-tune in seconds on a CPU, large enough to overfit a handful of sentences.
SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def read_texts(paths: list[Path]) -> list[str]:
    """The `text` of every document in JSONL files; a file under a `seeds` folder is refused."""
    texts = []
    for path in paths:
        if "seeds" in path.resolve().parts:
            raise SystemExit(f"{path}: seed documents are evaluation data; give composed or other training text")
        with path.open(encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh if line.strip())
    return texts


def build_bert(texts: list[str], out_dir: Path, seed: int) -> Path:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    # The same normalizer and pre-tokenizer as BertTokenizer, cased and with accents kept (Vietnamese tones).
    trained = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trained.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    trained.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trained.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=VOCAB_SIZE, special_tokens=BERT_SPECIALS))
    tokenizer = BertTokenizer(vocab=trained.get_vocab(), do_lower_case=False, strip_accents=False,
                              model_max_length=512)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512,
                        pad_token_id=tokenizer.pad_token_id, **SIZES)
    tokenizer.save_pretrained(out_dir)
    BertForMaskedLM(config).save_pretrained(out_dir)
    return out_dir


def build_roberta(texts: list[str], out_dir: Path, seed: int) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import RobertaConfig, RobertaForMaskedLM, RobertaTokenizer

    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    trained.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=ROBERTA_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    merges = json.loads(trained.to_str())["model"]["merges"]
    # add_prefix_space: a syllable tokenized on its own gets the word-initial form it has inside a sentence.
    tokenizer = RobertaTokenizer(vocab=trained.get_vocab(), merges=[tuple(m) for m in merges], add_prefix_space=True,
                                 model_max_length=512)
    torch.manual_seed(seed)
    # RoBERTa numbers positions from pad_token_id + 1, hence two more than model_max_length.
    config = RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=514, pad_token_id=tokenizer.pad_token_id,
                           bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, **SIZES)
    tokenizer.save_pretrained(out_dir)
    RobertaForMaskedLM(config).save_pretrained(out_dir)
    return out_dir


def build_phobert(texts: list[str], out_dir: Path, seed: int) -> Path:
    """A PhoBERT look-alike: RoBERTa weights and PhobertTokenizer, the slow tokenizer real PhoBERT ships."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PhobertTokenizer, RobertaConfig, RobertaForMaskedLM
    from underthesea import word_tokenize

    # PhoBERT reads "_"-joined words, so its pieces are learnt from segmented text.
    words = [word_tokenize(text, format="text") for text in texts]
    trained = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    trained.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trained.train_from_iterator(words, trainers.BpeTrainer(vocab_size=VOCAB_SIZE, end_of_word_suffix="</w>"))
    merges = json.loads(trained.to_str())["model"]["merges"]
    # fastBPE files: a word-final piece is written bare, any other piece with "@@"; merges keep "</w>".
    vocab = trained.get_vocab()
    pieces = [p.removesuffix("</w>") if p.endswith("</w>") else f"{p}@@" for p in sorted(vocab, key=vocab.get)]
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file, codes_file = Path(tmp) / "vocab.txt", Path(tmp) / "bpe.codes"
        vocab_file.write_text("".join(f"{p} 1\n" for p in dict.fromkeys(pieces)), encoding="utf-8")
        codes_file.write_text("".join(f"{a} {b} 1\n" for a, b in merges), encoding="utf-8")
        tokenizer = PhobertTokenizer(str(vocab_file), str(codes_file), model_max_length=256)
        tokenizer.save_pretrained(out_dir)
    torch.manual_seed(seed)
    config = RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=258, pad_token_id=tokenizer.pad_token_id,
                           bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                           tokenizer_class="PhobertTokenizer", **SIZES)
    RobertaForMaskedLM(config).save_pretrained(out_dir)
    return out_dir


def build_tiny_models(out_dir: Path, texts: list[str] | None = None, seed: int = 13) -> dict[str, Path]:
    """Write the three tiny base models under `out_dir`; returns their folders by kind (bert, roberta, phobert).

    `texts` train the tokenizers (default: the built-in sentences).
    """
    texts = texts or BUILTIN_TEXTS
    return {
        "bert": build_bert(texts, out_dir / "tiny-bert", seed),
        "roberta": build_roberta(texts, out_dir / "tiny-roberta", seed),
        "phobert": build_phobert(texts, out_dir / "tiny-phobert", seed),
    }


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    paths = [Path(p) for p in argv[1:]] or sorted((REPO / "annotations" / "composed").glob("*.jsonl"))
    texts = read_texts(paths) or BUILTIN_TEXTS
    for kind, folder in build_tiny_models(Path(argv[0]), texts).items():
        print(f"wrote {kind}: {folder}")


if __name__ == "__main__":
    main(sys.argv[1:])
