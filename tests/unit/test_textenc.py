"""Text encoder loading (tiny encoder-only and decoder-only models) and the persistent cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.textcache import MemoryTextCache, TextVectorCache
from encoders.textenc import TextEncoder, TextEncoderError, is_decoder_only
from tests.unit.tinylm import build_tiny_model

TEXTS = [
    "red heart light holder",
    "blue tea mug",
    "red heart light holder",
    "vintage christmas star",
]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bert"), "bert")


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("gpt2"), "gpt2")


def test_model_types() -> None:
    assert not is_decoder_only("bert")
    assert is_decoder_only("gpt2")
    assert is_decoder_only("llama")


def test_encoder_only_mean_pooling(bert_dir: Path) -> None:
    enc = TextEncoder(bert_dir, device="cpu")
    assert enc.pooling == "mean" and enc.dim == 32
    v = enc.encode(TEXTS)
    assert v.shape == (4, 32) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(v[0], v[2])
    assert not np.allclose(v[0], v[1])
    # batching and padding do not change a text's vector
    alone = TextEncoder(bert_dir, device="cpu", batch_size=1).encode([TEXTS[1]])
    np.testing.assert_allclose(alone[0], v[1], atol=1e-5)
    assert enc.encode([]).shape == (0, 32)


def test_decoder_only_last_token_pooling(gpt2_dir: Path) -> None:
    enc = TextEncoder(gpt2_dir, device="cpu")
    assert enc.pooling == "last"
    v = enc.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    # last-token pooling = the normalised hidden state at the text's own last token, unpadded
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gpt2_dir)
    model = AutoModel.from_pretrained(gpt2_dir).eval()
    with torch.inference_mode():
        ids = tok([TEXTS[1]], return_tensors="pt")
        assert int(ids["input_ids"][0, 1]) != tok.unk_token_id  # the vocab file was used
        hidden = model(ids["input_ids"]).last_hidden_state[0, -1]
    np.testing.assert_allclose(
        v[1], torch.nn.functional.normalize(hidden, dim=0).numpy(), atol=1e-5
    )


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TextEncoderError, match="cannot load text encoder"):
        TextEncoder(tmp_path / "nope", device="cpu")


def test_cache_persists_across_instances(bert_dir: Path, tmp_path: Path) -> None:
    first = TextEncoder(bert_dir, device="cpu", cache=TextVectorCache(tmp_path))
    v1 = first.encode(TEXTS)
    assert (first.cache_hits, first.cache_misses) == (0, 3)  # duplicates looked up once
    first.encode(TEXTS[:2])
    assert first.cache_hits == 2
    assert first.cache is not None
    first.cache.close()
    second = TextEncoder(bert_dir, device="cpu", cache=TextVectorCache(tmp_path))
    v2 = second.encode(TEXTS)
    assert (second.cache_hits, second.cache_misses) == (3, 0)
    np.testing.assert_array_equal(v1, v2)


def test_cache_is_keyed_by_encoder(bert_dir: Path, gpt2_dir: Path, tmp_path: Path) -> None:
    cache = TextVectorCache(tmp_path / "c.sqlite")
    TextEncoder(bert_dir, device="cpu", cache=cache).encode(TEXTS[:1])
    other = TextEncoder(gpt2_dir, device="cpu", cache=cache)
    other.encode(TEXTS[:1])
    assert cache.misses == 2 and len(cache) == 2


def test_memory_lru_serves_repeats_without_encoding(bert_dir: Path, tmp_path: Path) -> None:
    disk = TextVectorCache(tmp_path)
    try:
        enc = TextEncoder(bert_dir, device="cpu", cache=disk, memory=MemoryTextCache(2))
        plain = TextEncoder(bert_dir, device="cpu")
        want = plain.encode(TEXTS)
        calls: list[int] = []
        encode = enc._encode_uncached

        def counting(texts: list[str]) -> np.ndarray:
            calls.append(len(texts))
            return encode(texts)

        enc._encode_uncached = counting  # type: ignore[method-assign]
        # Free text (not persisted): encoded once, then served from memory, never written to disk.
        np.testing.assert_allclose(enc.encode(TEXTS[:2], persist=False), want[:2], atol=1e-6)
        np.testing.assert_allclose(enc.encode(TEXTS[:2], persist=False), want[:2], atol=1e-6)
        assert calls == [2] and len(disk) == 0
        assert enc.memory is not None and (enc.memory.hits, enc.memory.misses) == (2, 2)
        # A third text evicts the least recently used one ("red heart light holder").
        enc.encode([TEXTS[1], TEXTS[3]], persist=False)
        assert calls == [2, 1] and len(enc.memory) == 2
        np.testing.assert_allclose(enc.encode(TEXTS, persist=False), want, atol=1e-6)
        assert calls == [2, 1, 1]
        # Persisted texts go to both; the disk is asked only for what memory lacks.
        enc.encode(["blue tea mug", "garden party cake"])
        assert len(disk) == 2 and calls == [2, 1, 1, 2] and disk.hits == 0
    finally:
        disk.close()
    with pytest.raises(ValueError, match="capacity"):
        MemoryTextCache(0)
