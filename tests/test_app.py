"""app.py's settings: flags, then RAG_* variables, then Gradio's own, then defaults."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT))
import app  # noqa: E402


def test_flags_win_then_rag_variables_then_gradio_variables():
    a = app.parse_args([], {})
    assert (a.host, a.port, a.root_path, a.backend) == ("127.0.0.1", 7860, "", "auto")
    gradio = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080", "GRADIO_ROOT_PATH": "/qa"}
    a = app.parse_args([], gradio)
    assert (a.host, a.port, a.root_path) == ("0.0.0.0", 8080, "/qa")
    a = app.parse_args([], {**gradio, "RAG_HOST": "127.0.0.2", "RAG_PORT": "9000", "RAG_ROOT_PATH": "/news"})
    assert (a.host, a.port, a.root_path) == ("127.0.0.2", 9000, "/news")
    a = app.parse_args(["--host", "127.0.0.3", "--port", "9100", "--root-path", "/x", "--backend", "torch"],
                       {**gradio, "RAG_PORT": "9000", "RAG_BACKEND": "onnx"})
    assert (a.host, a.port, a.root_path, a.backend) == ("127.0.0.3", 9100, "/x", "torch")
    assert app.parse_args([], {"RAG_BACKEND": "onnx"}).backend == "onnx"


def test_bad_port_or_root_path_is_a_message(tmp_path):
    for env in ({"GRADIO_SERVER_PORT": "70000"}, {"GRADIO_ROOT_PATH": "no-slash"}):
        r = subprocess.run([sys.executable, "app.py", "--model", "fake", "--index", str(tmp_path / "i")],
                           capture_output=True, text=True, cwd=ROOT, timeout=120,
                           env={**__import__("os").environ, **env})
        assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr, r.stderr
