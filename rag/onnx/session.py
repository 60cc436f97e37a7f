"""ONNX Runtime sessions for the exported graphs (CPU; no torch)."""
from __future__ import annotations


def open_session(graph: bytes):
    """An ONNX Runtime CPU session over a checked graph."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # warnings about unused initializers are noise for users
    return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
