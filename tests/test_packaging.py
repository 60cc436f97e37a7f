"""What pip sees of the project: metadata that installs without deprecation warnings."""
from __future__ import annotations

import tomllib
from importlib import metadata

from conftest import ROOT


def test_the_licence_is_an_spdx_expression():
    """A ``license = {text = ...}`` table makes setuptools print a deprecation warning
    three times at every install; PEP 639's SPDX string does not."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in project["build-system"]["requires"])
    assert metadata.metadata("rag-zh-news").get("License-Expression") == "MIT"
