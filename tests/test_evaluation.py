"""Metrics on hand-made cases, the QA set formats, and the runner on a tiny corpus."""
from __future__ import annotations

import json

import pytest

from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from rag.errors import InputError
from eval.harness import metrics as M
from eval.harness.datasets import QAItem, load_cmrc, load_jsonl
from eval.harness.report import markdown_report, plots
from eval.harness.runner import calibrate, evaluate
from rag.index import build_index

from conftest import ROOT


def test_hit_mrr_recall_ndcg():
    ranked = ["b", "a", "c"]
    assert M.hit_at_k(ranked, ["a"], 1) == 0.0 and M.hit_at_k(ranked, ["a"], 2) == 1.0
    assert M.reciprocal_rank(ranked, ["a"]) == 0.5
    assert M.reciprocal_rank(ranked, ["z"]) == 0.0
    assert M.recall_at_k(ranked, ["a", "c", "z"], 3) == pytest.approx(2 / 3)
    assert M.ndcg_at_k(["a"], ["a"], 10) == 1.0
    assert M.ndcg_at_k(["x", "a"], ["a"], 10) == pytest.approx(1 / __import__("math").log2(3))


def test_empty_lists_and_unanswerable():
    assert M.hit_at_k([], ["a"], 5) == 0.0
    assert M.reciprocal_rank([], ["a"]) == 0.0
    assert M.hit_at_k(["a"], [], 5) == 0.0  # nothing to find: never a hit
    assert M.recall_at_k(["a"], [], 5) == 0.0 and M.ndcg_at_k(["a"], [], 5) == 0.0
    assert M.citation_precision([], ["a"]) is None
    assert M.mean([None, None]) is None and M.mean([1.0, None, 0.0]) == 0.5


def test_ties_are_broken_by_first_occurrence():
    assert M.dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_answer_contains_folds_script_and_width():
    assert M.answer_contains("共13層商業寫字樓", ["13层"]) == 1.0
    assert M.answer_contains("ＲＩＳＣ－Ｖ架構", ["RISC-V"]) == 1.0
    assert M.answer_contains("沒有", ["13层"]) == 0.0
    assert M.answer_contains("anything", []) == 0.0


def test_percentile():
    assert M.percentile([], 50) == 0.0
    assert M.percentile([1, 2, 3, 4], 50) == 2.5
    assert M.percentile([5], 95) == 5


def test_load_jsonl_reports_bad_lines(tmp_path):
    good = tmp_path / "ok.jsonl"
    good.write_text('{"id":"1","question":"q","answers":["a"],"doc_ids":["d"],"note":"x"}\n'
                    '{"id":"2","question":"q2","answers":[],"doc_ids":[]}\n', encoding="utf-8")
    items = load_jsonl(good)
    assert items[0].extra == {"note": "x"} and not items[1].answerable
    for body, msg in (('{"id":"1"}', "question"), ("not json", "not valid JSON"),
                      ('{"id":"1","question":"q","answers":["a"],"doc_ids":[]}', "both"),
                      ('["a list", "not an object"]', "must be a JSON object"),
                      ('{"id":"1","question":"q","answers":[7],"doc_ids":["d"]}', "'answers' must be a string"),
                      ('{"id":"1","question":"q","answers":[],"doc_ids":[]}\n{"id":"1","question":"q","answers":[],"doc_ids":[]}', "duplicate")):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(InputError, match=msg):
            load_jsonl(bad)


def test_seed_gold_set_is_well_formed():
    items = load_jsonl(ROOT / "eval" / "datasets" / "seeds_qa.jsonl")
    assert len(items) >= 60
    assert sum(not i.answerable for i in items) >= 10
    seeds = {p.stem for p in (ROOT / "seeds").glob("*.txt")}
    assert {d for i in items for d in i.doc_ids} == seeds


def test_cmrc_loader(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"id": "P1", "context": "这是简体的段落。",
                 "qas": [{"id": "Q1", "question": "问题？", "answers": [{"text": "段落", "answer_start": 4},
                                                                    {"text": "段落", "answer_start": 4}]}]}]}]}),
                 encoding="utf-8")
    corpus, items = load_cmrc(f)
    assert corpus == {"P1": "这是简体的段落。"} and items[0].answers == ("段落",) and items[0].doc_ids == ("P1",)
    trad, items = load_cmrc(f, traditional=True)
    assert trad["P1"] == "這是簡體的段落。" and items[0].question == "问题？"


def test_cmrc_ids_are_names_never_paths(tmp_path):
    """A hostile data file: ids with ../ or an absolute path, or a file of another shape,
    are refused with one clear error; nothing is written outside the corpus folder."""
    from eval.harness.datasets import write_corpus

    target = tmp_path / "outside"
    for pid in ("../outside", str(target), ".hidden", "a/b", "x\x1by"):
        f = tmp_path / "h.json"
        f.write_text(json.dumps({"data": [{"paragraphs": [{"id": pid, "context": "段落。", "qas": []}]}]}),
                     encoding="utf-8")
        with pytest.raises(InputError, match="cannot name a corpus file"):
            load_cmrc(f)
    with pytest.raises(InputError, match="written outside"):
        write_corpus({"../outside": "x"}, tmp_path / "corpus")
    assert not target.exists() and not (tmp_path / "outside.txt").exists()
    for body in ('{"data": 5}', '{"data": [{"paragraphs": [{"id": "P", "context": "c", "qas": [{"id": "q", '
                 '"question": "q?", "answers": [{"text": 5}]}]}]}]}', "[]", "not json"):
        f.write_text(body, encoding="utf-8")
        with pytest.raises(InputError, match="SQuAD format|cannot be read"):
            load_cmrc(f)


def test_a_question_that_cannot_be_asked_is_skipped_and_named(small_corpus, tmp_path, fake_settings):
    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings, HashingEmbedder())
    items = [QAItem("ok", "前海合作區去年吸引外資多少？", ("八十亿元",), ("b",)),
             QAItem("empty", "   ", ("x",), ("a",)),
             QAItem("huge", "問" * 100_000, ("x",), ("a",))]
    report = evaluate(idx, items, ["bm25"])
    assert [q["id"] for q in report["questions"]["bm25"]] == ["ok"]
    assert [s["id"] for s in report["skipped_questions"]] == ["empty", "huge"]


def test_runner_end_to_end_with_fake_model(small_corpus, tmp_path, fake_settings):
    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings, HashingEmbedder())
    items = [QAItem("1", "前海合作區去年吸引外資多少？", ("八十亿元",), ("b",)),
             QAItem("2", "高端人才通行證計劃收到多少申請？", ("兩萬份",), ("a",)),
             QAItem("3", "東京奧運會門票在哪裡買？", (), ())]
    report = evaluate(idx, items, ["bm25", "hybrid"])
    s = report["modes"]["bm25"]
    assert s["retrieval"]["hit@1"] == 1.0 and s["retrieval"]["n"] == 2
    assert s["citations"]["all_verified"] == 1.0
    assert s["abstention"]["unanswerable_abstained"] == 1.0
    assert set(s["by_script"]) == {"traditional"}
    q = report["questions"]["hybrid"][0]
    assert q["citations"] and q["hits"] and "dense_rank" in q["hits"][0]
    report["meta"] = {"index": "x", "model": "fake", "chunk_size": 300, "fusion": "convex", "questions": 3}
    md = markdown_report(report, "t")
    assert "| bm25 | 1.000 |" in md
    assert sorted(plots(report, tmp_path)) == ["by_script.png", "hit_at_k.png", "latency.png"]
    assert (tmp_path / "hit_at_k.png").stat().st_size > 1000


def test_calibrate_separates_cases():
    rs = [{"answerable": True, "evidence": {"dense": 0.92, "coverage": 0.8}},
          {"answerable": True, "evidence": {"dense": 0.90, "coverage": 0.6}},
          {"answerable": False, "evidence": {"dense": 0.85, "coverage": 0.7}},
          {"answerable": False, "evidence": {"dense": 0.95, "coverage": 0.2}}]
    c = calibrate(rs)
    assert c["errors"] == 0 and 0.85 < c["min_dense_score"] <= 0.90 and 0.2 < c["min_coverage"] <= 0.6


def test_scale_benchmark_on_small_sizes(fake_settings):
    from eval.harness.bench import bench_scale

    rows = bench_scale([400], 32, fake_settings, n_queries=20, clusters=10)
    row = rows[0]
    assert row["exact"]["index"] == "flat-ip" and row["approximate"]["index"] == "hnsw-ip"
    assert row["exact"]["recall@10_vs_exact"] == 1.0
    assert 0.5 <= row["approximate"]["recall@10_vs_exact"] <= 1.0
    assert row["approximate"]["query_ms"] > 0 and row["exact"]["memory_mb"] > 0



def test_the_bench_says_which_cpu_ran_it():
    from eval.harness.bench import cpu_description

    info = ("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma\n"
            "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma\n")
    assert cpu_description(info) == {"cpu": "AMD EPYC", "vector_extensions": ["avx2"]}
    xeon = "model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512_vnni avx512_bf16 amx_bf16\n"
    assert cpu_description(xeon)["vector_extensions"] == ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"]
    assert cpu_description("") == {"cpu": "unknown", "vector_extensions": []}


@pytest.fixture()
def reader_idx(small_corpus, tmp_path, fake_settings):
    """The small corpus with the stand-in reader, and two answerable questions and one not."""
    from test_reader import NumberReader

    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    # Without the topic check, which would drop the wrong-document answer the gold-removed
    # figures below need (that check has its own tests, tests/test_topic_check.py).
    idx = open_index(tmp_path / "idx", fake_settings.with_(reader_min_topic=None), HashingEmbedder())
    idx.reader = NumberReader()
    # Question 1 names no measure, so the wrong document's "八十亿元" is not ruled out by the unit check.
    items = [QAItem("1", "香港科技園公司今年新增了多少初創企業？", ("三百家",), ("a",)),
             QAItem("2", "前海合作區去年吸引外資多少？", ("八十亿元",), ("b",)),
             QAItem("3", "東京奧運會門票在哪裡買？", (), ())]
    return idx, items


def test_runner_measures_the_reader_short_answers_and_gold_removed(reader_idx, tmp_path):
    idx, items = reader_idx
    report = evaluate(idx, items, ["hybrid"], gold_removed=True)
    sa = report["modes"]["hybrid"]["short_answers"]
    assert sa["given"] == 1.0 and sa["em"] == 1.0 and sa["f1"] == 1.0
    assert report["given_passage"]["questions"] == 2 and report["given_passage"]["em"] == 1.0
    # Without its own document the corpus cannot answer: abstaining is right. The stand-in
    # reader abstains on one and answers the other from the wrong document ("企业" is shared).
    g = report["gold_removed"]
    assert g["questions"] == 2 and g["right"] == 0.5 and g["abstained"] == 0.5
    # --skip-given-passage: the same answers, without the reader-alone pass.
    skipped = evaluate(idx, items, ["hybrid"], given=False)
    assert "given_passage" not in skipped and skipped["modes"]["hybrid"]["short_answers"] == sa
    assert g["answered_with_a_reference_elsewhere"] == 0.0
    report["meta"] = {"index": "x", "model": "fake", "chunk_size": 300, "fusion": "convex", "questions": 3,
                      "reader": "number-reader"}
    md = markdown_report(report, "t")
    assert "Short answers" in md and "own passage removed" in md and "given each question's own passage" in md


def test_risk_coverage_moves_the_threshold_over_the_confidences():
    from eval.harness.metrics import risk_coverage

    pts = risk_coverage([(0.9, True), (0.1, False), (0.5, True), (0.5, False)])
    # Most confident first; the two at 0.5 enter together.
    assert pts == [(0.25, 1.0, 0.9), (0.75, 2 / 3, 0.5), (1.0, 0.5, 0.1)]
    assert risk_coverage([]) == []


def test_runner_draws_risk_coverage_and_measures_the_reader_order(reader_idx, tmp_path):
    idx, items = reader_idx
    report = evaluate(idx, items, ["hybrid"], risk_coverage=True)
    rc = report["risk_coverage"]
    assert set(rc) == {"reader", "heuristics"}
    # With abstention off the stand-in reader answers all three: the two answerable ones
    # right with margin 4, the unanswerable one (its margin is -2) wrong.
    assert rc["reader"]["questions"] == 3
    assert rc["reader"]["points"] == [[0.6667, 1.0, 4.0], [1.0, 0.6667, -2.0]]
    assert rc["reader"]["operating"] == {"threshold": 0.0, "coverage": 0.6667, "accuracy": 1.0}
    # The forced run did not change the shipped reader's threshold.
    assert idx.reader.threshold == 0.0
    q = report["questions"]["hybrid"][0]
    assert q["read_margins"] and q["confidence"] == 4.0
    assert report["modes"]["hybrid"]["retrieval"]["hit@1_reader_order"] is not None
    report["meta"] = {"index": "x", "model": "fake", "chunk_size": 300, "fusion": "convex", "questions": 3}
    md = markdown_report(report, "t")
    assert "Risk and coverage" in md and "| reader |" in md and "in the order of its margin" in md
    assert "risk_coverage.png" in plots(report, tmp_path)


def test_a_run_writes_a_new_ignored_folder_not_the_tracked_reports():
    import argparse
    import shutil
    import subprocess

    from eval.harness.run import run_folder

    out = run_folder(argparse.Namespace(out=None), "seeds_qa")
    assert out.parent == ROOT / "eval" / "runs" and out.name.startswith("seeds_qa-")
    assert run_folder(argparse.Namespace(out="x/y"), "seeds_qa") == __import__("pathlib").Path("x/y")
    if shutil.which("git") and (ROOT / ".git").exists():
        assert subprocess.run(["git", "check-ignore", "-q", str(out / "report.json")], cwd=ROOT).returncode == 0
