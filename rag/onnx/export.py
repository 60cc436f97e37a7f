"""Export the bundled model and the trained reader to ONNX graphs (needs torch).

Both graphs take ``word_embeddings`` (float32, batch x tokens x hidden) and
``attention_mask`` (int64, batch x tokens). The embedder returns mean-pooled, L2-normalised vectors (sentence-transformers'
pipeline for this model); the reader returns start and end logits per token, with
the adapters merged into the base layers. Neither holds the word embedding table: the
caller looks the rows up in the converted model's table (``files.word_embedding_table``),
one memory-mapped copy for both. The embedder's weights are quantized to int8
per output channel (activations on the fly): per-tensor scales lost too much (cosine
0.98 to float32), per-channel keeps 0.99+ and triples the speed. The reader stays
float32 (see export_reader). Measured: docs/measurements.md, Speed.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from ..checksums import sha256_file
from .files import BACKEND_ONNX, EXPORT_VERSION, GRAPH, MANIFEST, PRODUCT, TOKENIZER

log = logging.getLogger(__name__)
OPSET = 17


def _export(module, out_dir: Path, output_names: list[str], quantize: bool, embeds: int = 0,
            fuse_heads: int = 0) -> None:
    """Trace ``module`` to ONNX; with ``quantize``, its weights to int8 per channel. With
    ``embeds`` (the hidden size), the first input is ``word_embeddings`` (batch x tokens x
    hidden, float32) instead of ``input_ids``. With ``fuse_heads`` (the attention heads),
    ONNX Runtime's BERT fusions replace each layer's attention, bias + GELU and residual +
    LayerNorm subgraphs by single kernels (float32 still: the logits move by about 1e-5)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    module.eval()
    ids = torch.randn(2, 16, embeds) if embeds else torch.ones(2, 16, dtype=torch.long)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0  # a padded row, so the traced graph keeps the mask arithmetic
    first = "word_embeddings" if embeds else "input_ids"
    axes = {first: {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    for name in output_names:
        axes[name] = {0: "batch"} if name == "embedding" else {0: "batch", 1: "tokens"}
    fp32 = out_dir / "model.fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about constants that do not apply to these shapes
        # The TorchScript exporter: the dynamo one needs onnxscript and gives the same graph here.
        torch.onnx.export(module, (ids, mask), str(fp32), input_names=[first, "attention_mask"],
                          output_names=output_names, dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    if fuse_heads:
        from onnxruntime.transformers.optimizer import optimize_model

        fused = optimize_model(str(fp32), model_type="bert", num_heads=fuse_heads, hidden_size=embeds, opt_level=0)
        fused.save_model_to_file(str(fp32))
    if not quantize:
        os.replace(fp32, out_dir / GRAPH)
        return
    root = logging.getLogger()
    was, root.disabled = root.disabled, True  # the quantizer logs a pre-processing tip to the root logger
    try:
        quantize_dynamic(str(fp32), str(out_dir / GRAPH), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.disabled = was
    fp32.unlink()


def _write(folder: Path, build) -> None:
    """Run ``build(tmp)`` in a fresh sibling folder, then rename it into ``folder``:
    a crash leaves no half-written export that a later run would trust."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.export-", dir=folder.parent))
    try:
        manifest = build(tmp)
        manifest.update({"product": PRODUCT, "export_version": EXPORT_VERSION, "backend": BACKEND_ONNX,
                         "files": {GRAPH: sha256_file(tmp / GRAPH), TOKENIZER: sha256_file(tmp / TOKENIZER)}})
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.rename(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _versions() -> dict[str, str]:
    import onnxruntime
    import torch

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "opset": str(OPSET)}


def export_embedder(model_dir: Path, base_fingerprint: str, folder: Path) -> None:
    """Write the embedder export of the converted model at ``model_dir`` into ``folder``."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    class MeanPooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, word_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(inputs_embeds=word_embeddings, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    def build(tmp: Path) -> dict:
        # Eager attention traces to plain MatMul/Softmax with the mask added, valid for any shape.
        bert = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False, attn_implementation="eager")
        # Without the word embedding table: the caller looks rows up in the converted model's
        # float32 table (memory-mapped, shared with the reader), so the lookup is exact and
        # the graph is 22 MB instead of 118.
        _export(MeanPooled(bert), tmp, ["embedding"], quantize=True, embeds=int(bert.config.hidden_size))
        shutil.copyfile(model_dir / "tokenizer.json", tmp / TOKENIZER)
        prompts = json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]
        return {"kind": "embedder", "base_fingerprint": base_fingerprint, "pooling": "mean", "normalized": True,
                "prompts": prompts, "precision": "int8 weights per channel, dynamic activations", "dimension": int(bert.config.hidden_size),
                "max_tokens": int(bert.config.max_position_embeddings), "pad_id": int(bert.config.pad_token_id),
                **_versions()}

    _write(folder, build)


def _from_embeddings(net):
    import torch

    class FromEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, word_embeddings: torch.Tensor, attention_mask: torch.Tensor):
            return self.net(None, attention_mask, inputs_embeds=word_embeddings)

    return FromEmbeddings()


def export_reader(model_dir: Path, base_fingerprint: str, weights_dir: Path, folder: Path) -> None:
    """Write the trained reader (adapters merged) over ``model_dir`` into ``folder``."""
    from ..reader.load import load_reader

    def build(tmp: Path) -> dict:
        tokenizer, net, manifest = load_reader(model_dir, base_fingerprint, weights_dir, attn="eager")
        # Float32: int8 moved the reader's margins (0.3 on average over 120 CMRC trial pairs
        # even with the head and FFN down-projections kept float, and it turned a seed
        # answer into a refusal), and its threshold was calibrated in float32. The word
        # embedding table (384 of its 470 MB) is left out: the reader looks rows up in the
        # converted model's table (frozen in training, so the same), memory-mapped.
        _export(_from_embeddings(net), tmp, ["start_logits", "end_logits"], quantize=False,
                embeds=int(net.bert.config.hidden_size), fuse_heads=int(net.bert.config.num_attention_heads))
        shutil.copyfile(model_dir / "tokenizer.json", tmp / TOKENIZER)
        return {"kind": "reader", "base_fingerprint": base_fingerprint,
                "reader_weights_sha256": manifest["weights_sha256"], "pad_id": int(tokenizer.pad_token_id),
                "precision": "float32", "fusions": "onnxruntime.transformers bert (attention, bias-gelu, skip-layernorm)",
                "inputs": "word_embeddings (rows of the base model's table)",
                **_versions()}

    _write(folder, build)
