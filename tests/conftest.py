from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def seed_path(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


def seed_text(prefix: str) -> str:
    return seed_path(prefix).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where the converted model lives for tests (shared across runs, like a user's cache)."""
    return Path(os.environ.get("RAG_CACHE_DIR") or (ROOT / ".cache" / "models"))


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.txt").write_text(
        "香港科技園的新聞\n\n香港科技園公司今年新增了三百家初創企業。園區面積擴大至四十萬平方米。\n"
        "記者 王小明\n\n人才計劃\n\n政府推出高端人才通行證計劃，吸引海外專才來港。首年收到兩萬份申請。\n",
        encoding="utf-8")
    (d / "b.md").write_text(
        "---\ntitle: 深圳前海的发展\ndate: 2025-01-02\n---\n\n前海合作区去年吸引外资八十亿元。[^1]区内企业超过十万家。\n\n"
        "[^1]: <a href=\"https://example.com/a\">前海报道</a>·某报\n", encoding="utf-8")
    return d


def make_fake_settings(cache_dir: Path):
    """Settings for the hashing fake embedder: its vectors carry no meaning, so the dense
    abstention test is off and the coverage bar is lower. Builders and readers in a test
    (child processes included) must use the same settings, or loading refuses the index."""
    from rag.settings import Settings

    return Settings(model="fake", model_cache_dir=cache_dir, min_dense_score=0.0, min_coverage=0.3)


@pytest.fixture()
def fake_settings(tmp_path: Path):
    return make_fake_settings(tmp_path / "models")
