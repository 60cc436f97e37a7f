"""The rag command end to end: fake model for the plumbing, the real model on the seeds."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS


def run(*args: str, stdin: str | None = None, cwd: Path | None = None, env_cache: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_cache:
        env["RAG_CACHE_DIR"] = str(env_cache)
    return subprocess.run([sys.executable, "-m", "rag", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=600)


def run_eval(*args: str) -> subprocess.CompletedProcess:
    """``python -m eval run`` (the harness lives in eval/, outside the package)."""
    return subprocess.run([sys.executable, "-m", "eval", "run", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_fake_model_pipeline(small_corpus, tmp_path):
    idx = tmp_path / "idx"
    r = run("index", "--corpus", str(small_corpus), "--out", str(idx), "--model", "fake")
    assert r.returncode == 0, r.stderr
    assert "indexed 2 documents" in r.stdout
    r = run("ask", "前海合作区去年吸引外资多少？", "--index", str(idx), "--model", "fake", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"answer", "abstained", "citations", "hits", "timings_ms"}
    assert set(out["citations"][0]) >= {"marker", "chunk_id", "doc_id", "title", "start", "end", "quote"}
    assert set(out["hits"][0]) == {"chunk_id", "doc_id", "score", "dense_rank", "bm25_rank"}
    import os
    stdin = ("前海有多少企業？\n\n" + "長" * 900 + "\n").encode("utf-8") + b"\xff\xfe bad\n"
    r = subprocess.run([sys.executable, "-m", "rag", "ask", "-", "--index", str(idx), "--model", "fake", "--json"],
                       input=stdin, capture_output=True, cwd=ROOT, env=dict(os.environ), timeout=600)
    lines = [json.loads(x) for x in r.stdout.decode("utf-8").splitlines()]
    assert len(lines) == 3 and "answer" in lines[0] and "limit" in lines[1]["error"]
    assert "not valid UTF-8" in lines[2]["error"] and lines[2]["line"] == 4
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    r = run("cite", "b#0", "--index", str(idx), "--model", "fake", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["doc_id"] == "b"


@pytest.mark.parametrize("args,message", [
    (("ask", "問題", "--index", "/nonexistent/idx", "--model", "fake"), "no index at"),
    (("ask", "", "--index", "IDX", "--model", "fake"), "empty"),
    (("index", "--corpus", "/nonexistent/corpus", "--out", "OUT", "--model", "fake"), "does not exist"),
    (("cite", "nonsense", "--index", "IDX", "--model", "fake"), "neither a chunk id"),
])
def test_errors_are_messages_not_tracebacks(small_corpus, tmp_path, args, message):
    idx = tmp_path / "idx"
    run("index", "--corpus", str(small_corpus), "--out", str(idx), "--model", "fake")
    args = tuple(str(idx) if a == "IDX" else str(tmp_path / "out") if a == "OUT" else a for a in args)
    r = run(*args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr


def test_skipped_files_are_reported(small_corpus, tmp_path):
    (small_corpus / "broken.txt").write_bytes(b"ok\xc3")
    r = run("index", "--corpus", str(small_corpus), "--out", str(tmp_path / "idx"), "--model", "fake")
    assert r.returncode == 0 and "broken.txt" in r.stderr and "byte 2" in r.stderr


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory, model_cache_dir):
    out = tmp_path_factory.mktemp("seedidx") / "index"
    r = run("index", "--corpus", str(SEEDS), "--out", str(out), env_cache=model_cache_dir)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.model
def test_real_model_answers_alibaba_question(seed_index, model_cache_dir):
    r = run("ask", "阿里巴巴在铜锣湾买下了几层写字楼？", "--index", str(seed_index), "--json", env_cache=model_cache_dir)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert not out["abstained"] and "13层" in out["answer"]
    cit = next(c for c in out["citations"] if "13層" in c["quote"])
    assert cit["doc_id"].startswith("000_")
    text = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")
    assert text[cit["start"]:cit["end"]] == cit["quote"]
    # The reader's short answer: verified offsets, inside the cited sentence, printed first.
    sa = out["short_answer"]
    assert sa and "13" in sa["text"] and text[sa["start"]:sa["end"]] == sa["text"] and out["reader"] != "none"
    assert cit["start"] <= sa["start"] < sa["end"] <= cit["end"] and out["no_answer_score"] < 0
    r = run("ask", "阿里巴巴在铜锣湾买下了几层写字楼？", "--index", str(seed_index), env_cache=model_cache_dir)
    assert r.stdout.startswith("答案：") and "13层" in r.stdout.splitlines()[0]


@pytest.mark.model
def test_real_model_abstains_on_metro_fares(seed_index, model_cache_dir):
    r = run("ask", "香港地鐵的車費是多少？", "--index", str(seed_index), "--json", env_cache=model_cache_dir)
    out = json.loads(r.stdout)
    assert out["abstained"] and out["citations"] == [] and "證據" in out["answer"]


@pytest.mark.model
def test_real_model_second_index_run_is_quick(seed_index, model_cache_dir):
    r = run("index", "--corpus", str(SEEDS), "--out", str(seed_index), env_cache=model_cache_dir)
    assert r.returncode == 0 and "up to date" in r.stdout


@pytest.mark.model
def test_real_model_claim_support(seed_index, model_cache_dir):
    r = run("cite", "--claim", "阿里和螞蟻斥資66億元買下銅鑼灣寫字樓", "--index", str(seed_index), "--json",
            env_cache=model_cache_dir)
    out = json.loads(r.stdout)
    assert out[0]["verdict"] == "supported", out
    ev = out[0]["evidence"][0]
    assert ev["doc_id"].startswith("000_") and "66億元" in ev["quote"]
    r = run("cite", "--claim", "阿里和螞蟻斥資88億元買下銅鑼灣寫字樓", "--index", str(seed_index), "--json",
            env_cache=model_cache_dir)
    out = json.loads(r.stdout)
    assert out[0]["verdict"] == "contradicted" and out[0]["archive_says"] == ["66億元"], out


def test_eval_command_writes_reports(small_corpus, tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id":"1","question":"前海合作區去年吸引外資多少？","answers":["八十亿元"],"doc_ids":["b"]}\n'
                  '{"id":"2","question":"東京奧運門票多少錢？","answers":[],"doc_ids":[]}\n', encoding="utf-8")
    out = tmp_path / "report"
    r = run_eval("--dataset", str(qa), "--corpus", str(small_corpus), "--index", str(tmp_path / "idx"),
            "--model", "fake", "--mode", "bm25", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "hit@1" in r.stdout and "bm25" in r.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["modes"]["bm25"]["retrieval"]["hit@1"] == 1.0
    assert (out / "report.md").is_file() and (out / "hit_at_k.png").is_file()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops", encoding="utf-8")
    r = run_eval("--dataset", str(bad), "--corpus", str(small_corpus), "--model", "fake")
    assert r.returncode == 2 and "bad.jsonl:1" in r.stderr


def test_question_bytes_that_are_not_utf8(small_corpus, tmp_path):
    import os

    idx = tmp_path / "idx"
    run("index", "--corpus", str(small_corpus), "--out", str(idx), "--model", "fake")
    r = subprocess.run([sys.executable, "-m", "rag", "ask", b"\xff\xfe\xe4\xb8", "--index", str(idx), "--model", "fake"],
                       capture_output=True, cwd=ROOT, env=dict(os.environ), timeout=600)
    assert r.returncode == 2 and b"not valid UTF-8" in r.stderr and b"Traceback" not in r.stderr


def test_dependency_lock_agrees_with_pyproject():
    """Every pin in pyproject.toml is the version in requirements.lock (what setup installs)."""
    import re
    import tomllib

    from conftest import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [*project["dependencies"], *[d for ds in project["optional-dependencies"].values() for d in ds]]
    lock = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[re.sub(r"[-_.]+", "-", name.lower())] = version
    for pin in pins:
        name, version = pin.split("==")
        assert lock.get(re.sub(r"[-_.]+", "-", name.lower())) == version, pin


def test_index_never_replaces_a_folder_that_is_not_an_index(small_corpus, tmp_path):
    mydocs = tmp_path / "mydocs"
    (mydocs / "sub").mkdir(parents=True)
    (mydocs / "thesis.docx").write_text("important\n")
    r = run("index", "--corpus", str(small_corpus), "--out", str(mydocs), "--model", "fake")
    assert r.returncode == 2 and "refusing to replace" in r.stderr and "mydocs" in r.stderr, r.stderr
    assert (mydocs / "thesis.docx").read_text() == "important\n" and (mydocs / "sub").is_dir()
    r = run("index", "--corpus", str(small_corpus), "--out", str(small_corpus), "--model", "fake")
    assert r.returncode == 2 and "corpus folder" in r.stderr and len(list(small_corpus.iterdir())) == 2
    for out in ("", ".", "  "):
        r = run("index", "--corpus", str(small_corpus), "--out", out, "--model", "fake", cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr and ("empty" in r.stderr or "current folder" in r.stderr)
    assert not (tmp_path.parent / "..lock").exists() and not list(tmp_path.glob("*.lock"))


HOSTILE_TITLE = "標題\x1b]0;owned\x07正文\x1b[2J\x1b[8m隱藏\x1b[0m\x1b]52;c;ZXZpbA==\x07\x1b]8;;http://e.x\x1b\\連\x1b]8;;\x1b\\"


def test_document_text_reaches_the_terminal_without_escape_sequences(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    name = "惡意\x1b[31m檔名\n第二行"
    (corpus / f"{name}.txt").write_text(
        f"{HOSTILE_TITLE}\n\n前海合作区去年吸引外资八十亿元\x1b[2J。区内企业超过十万家\x9b31m。\n", encoding="utf-8")
    idx = tmp_path / "idx"
    r = run("index", "--corpus", str(corpus), "--out", str(idx), "--model", "fake")
    assert r.returncode == 0, r.stderr
    outputs = [run("ask", "前海合作区去年吸引外资多少？", "--index", str(idx), "--model", "fake"),
               run("cite", f"{name}#0", "--index", str(idx), "--model", "fake"),
               run("cite", "--claim", "前海合作区吸引外资八十亿元", "--index", str(idx), "--model", "fake")]
    for r in outputs:
        assert r.returncode == 0, r.stderr
        bad = [hex(ord(ch)) for ch in r.stdout if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F]
        assert not bad, (bad, r.stdout)
        assert "owned" not in r.stdout and "ZXZpbA" not in r.stdout
    assert "惡意檔名 第二行" in outputs[0].stdout  # the id stays on its line
    # --json keeps the exact text (JSON escapes what a terminal would act on).
    r = run("cite", f"{name}#0", "--index", str(idx), "--model", "fake", "--json")
    assert "\x1b" not in r.stdout and "\x9b" not in r.stdout
    out = json.loads(r.stdout)
    assert out["doc_id"] == name and out["title"].startswith("標題\x1b]0;owned")


@pytest.mark.parametrize("args,message", [
    (("cite", "--claim", "前海合作区吸引外资", "--top-k", "-3"), "top_k"),
    (("cite", "--claim", "前海合作区吸引外资", "--top-k", "100000000"), "top_k"),
    (("ask", "前海合作区吸引外资多少？", "--top-k", "0"), "top_k"),
    (("cite", "b#" + "9" * 5000), "characters"),
    (("cite", "b#" + "9" * 30), "digits"),
    (("cite", "b:0-" + "9" * 30), "digits"),
    (("cite", "b#0", "--context", "-5"), "context"),
])
def test_numbers_out_of_bounds_are_messages(small_corpus, tmp_path, args, message):
    idx = tmp_path / "idx"
    run("index", "--corpus", str(small_corpus), "--out", str(idx), "--model", "fake")
    r = run(*args, "--index", str(idx), "--model", "fake")
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_docs_lists_documents_and_unknown_ids_get_a_did_you_mean(small_corpus, tmp_path):
    idx = tmp_path / "idx"
    run("index", "--corpus", str(small_corpus), "--out", str(idx), "--model", "fake")
    r = run("docs", "--index", str(idx), "--model", "fake", "--json")
    rows = {d["doc_id"]: d for d in json.loads(r.stdout)}
    assert r.returncode == 0 and set(rows) == {"a", "b"}
    assert rows["b"]["title"] == "深圳前海的发展" and rows["b"]["date"] == "2025-01-02" and rows["b"]["chunks"] >= 1
    text = run("docs", "--index", str(idx), "--model", "fake").stdout
    assert "深圳前海的发展" in text and "no date" in text and "2 documents" in text
    r = run("ask", "前海吸引外资多少？", "--doc", "bb", "--index", str(idx), "--model", "fake")
    assert r.returncode == 2 and "did you mean b" in r.stderr and "Traceback" not in r.stderr
    r = run("cite", "前海#0", "--index", str(idx), "--model", "fake")
    assert r.returncode == 2 and "did you mean b" in r.stderr  # found by its title


def test_the_moved_evaluation_commands_say_where_they_went():
    r = run("eval", "--dataset", "x.jsonl")
    assert r.returncode == 2 and "python -m eval run" in r.stderr and "Traceback" not in r.stderr
    r = run("bench")
    assert r.returncode == 2 and "python -m eval bench" in r.stderr
