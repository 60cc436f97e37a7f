"""What pip sees of the project: metadata that installs without deprecation warnings."""
from __future__ import annotations

import tomllib
from pathlib import Path
from importlib import metadata

from conftest import ROOT


def test_the_licence_is_an_spdx_expression():
    """A ``license = {text = ...}`` table makes setuptools print a deprecation warning
    three times at every install; PEP 639's SPDX string does not."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in project["build-system"]["requires"])
    assert metadata.metadata("rag-zh-news").get("License-Expression") == "MIT"


def test_the_library_imports_no_interface_and_no_research():
    """rag/ never imports up into the page (webapp, gradio), into eval/ or plotting: the
    research lives in eval/ and is not installed with the package."""
    import ast
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    for path in (root / "rag").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                assert name.split(".")[0] not in ("webapp", "eval", "gradio", "matplotlib", "app"), (path, name)
    code = ("import sys, rag, rag.api, rag.cli, rag.mcp_tools; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('eval', 'webapp', 'gradio', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", (out.stdout, out.stderr)
    found = [p for p in (root / "pyproject.toml").read_text(encoding="utf-8").splitlines() if p.startswith("include =")]
    assert found == ['include = ["rag*", "webapp*"]'], found  # eval/ is not installed
