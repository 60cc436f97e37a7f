"""ONNX Runtime sessions for the exported graphs (CPU; no torch)."""
from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)


def onnxruntime():
    """The onnxruntime module with its telemetry off: ``ORT_DISABLE_TELEMETRY`` must be
    set before the library is loaded (``rag/__init__`` sets it first thing; this is for
    callers that import this module alone)."""
    if "onnxruntime" not in sys.modules:
        os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    elif os.environ.get("ORT_DISABLE_TELEMETRY") != "1":
        log.warning("onnxruntime was loaded before rag, without ORT_DISABLE_TELEMETRY=1: it may send telemetry; "
                    "import rag first or set ORT_DISABLE_TELEMETRY=1")
    import onnxruntime as ort

    ort.disable_telemetry_events()
    return ort


def open_session(graph: bytes):
    """An ONNX Runtime CPU session over a checked graph."""
    ort = onnxruntime()

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # warnings about unused initializers are noise for users
    return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
