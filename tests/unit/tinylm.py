"""Tiny language models the tests build and save themselves (no downloads, milliseconds to load)."""

from __future__ import annotations

from pathlib import Path

_WORD_LINE = (
    "red blue green white black heart light holder candle mug cup bag box tea coffee garden "
    "vintage christmas star paper party cake sweet home kitchen retro set of the a and"
)
WORDS = tuple(_WORD_LINE.split())


def build_tiny_model(folder: Path, kind: str = "bert", hidden: int = 32) -> Path:
    """Save a randomly initialised tiny ``bert`` (encoder-only) or ``gpt2`` (decoder-only) model and
    a word-piece tokenizer built from a vocab file into ``folder``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer, GPT2Config, GPT2Model

    folder.mkdir(parents=True, exist_ok=True)
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *WORDS,
        *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"),
    ]
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(vocab=str(vocab_file))
    torch.manual_seed(0)
    if kind == "bert":
        config = BertConfig(
            vocab_size=len(vocab),
            hidden_size=hidden,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=2 * hidden,
            max_position_embeddings=64,
        )
        model = BertModel(config)
    elif kind == "gpt2":
        config = GPT2Config(
            vocab_size=len(vocab),
            n_embd=hidden,
            n_layer=1,
            n_head=2,
            n_positions=64,
            bos_token_id=2,
            eos_token_id=3,
        )
        model = GPT2Model(config)
    else:
        raise ValueError(kind)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
