"""The reader's answer decision: margin and retrieval score together (rag.reader.decide.Decision),
its file (rag.reader.load.read_decision), its place in RagIndex.ask, and its tuning
(eval.harness.decision)."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from rag.api import open_index
from rag.embedding.fake import HashingEmbedder
from eval.harness.decision import Asked, Read, best_threshold, choose, row
from rag.index import build_index
from rag.reader.decide import Decision, ReadSpan
from rag.reader.features import SpanScore
from rag.reader.load import DECISION_FILE, read_decision
from test_reader import NumberReader

WEIGHTS = Path(__file__).resolve().parents[1] / "rag" / "reader" / "weights"
QUESTION = "香港科技園公司今年新增了多少家初創企業？"


def test_the_score_adds_the_weighted_retrieval_score_and_applies_to_its_own_fusion_only():
    d = Decision(retrieval_weight=80.0, threshold=70.0, fusion="zscore", dense_weight=0.4)
    span = ReadSpan("a#0", "a", 0, 2, margin=-2.0, sentence=(0, 5), retrieval=0.95)
    assert d.score(span) == pytest.approx(-2.0 + 80 * 0.95)
    assert d.applies("hybrid", "zscore", 0.4)
    assert not d.applies("dense", "zscore", 0.4) and not d.applies("bm25", "zscore", 0.4)
    assert not d.applies("hybrid", "rrf", 0.4) and not d.applies("hybrid", "zscore", 0.5)


@pytest.fixture()
def decided_idx(small_corpus, tmp_path, fake_settings):
    build_index(small_corpus, tmp_path / "idx", fake_settings, HashingEmbedder())
    idx = open_index(tmp_path / "idx", fake_settings.with_(reader_min_topic=None), HashingEmbedder())
    idx.reader = NumberReader()  # margin 4.0 on the passage with the number
    idx.reader.threshold = 10.0  # the margin alone refuses
    return idx


def test_a_passage_that_stands_out_lets_a_lower_margin_answer_and_only_in_hybrid(decided_idx):
    idx = decided_idx
    refused = idx.ask(QUESTION)
    assert refused.abstained and "decision_score" not in refused.evidence  # no decision: the margin decides
    idx.reader.decision = Decision(retrieval_weight=100.0, threshold=10.0)
    a = idx.ask(QUESTION)
    assert not a.abstained and "三百家" in a.answer
    # The reader itself is unsure (margin 4 below its own threshold 10): the sentence is
    # quoted and cited, but no bold short answer is claimed.
    assert a.short_answer is None and a.short_text == ""
    ev = a.evidence
    hit = next(h for h in a.hits if h.chunk_id == a.citations[0].chunk_id)
    assert ev["retrieval_score"] == round(hit.score, 4) and ev["retrieval_weight"] == 100.0
    assert ev["decision_score"] == pytest.approx(4.0 + 100 * hit.score, abs=1e-3) and ev["decision_threshold"] == 10.0
    assert ev["reader_margin"] == 4.0 and ev["no_answer_threshold"] == 10.0
    # Where it does not apply, the margin decides alone: another retrieval mode, another
    # fusion, or the margin asked for.
    assert idx.ask(QUESTION, mode="dense").abstained
    idx.settings = idx.settings.with_(reader_decision="margin")
    assert idx.ask(QUESTION).abstained
    idx.settings = idx.settings.with_(reader_decision="combined", fusion="rrf")
    assert idx.ask(QUESTION).abstained


def test_the_short_answer_is_given_only_when_the_reader_is_confident(decided_idx):
    idx = decided_idx
    idx.reader.decision = Decision(retrieval_weight=100.0, threshold=10.0)
    for threshold, short in ((4.0, ""), (3.9, "三百家")):  # the margin is 4.0: it must clear it
        idx.reader.threshold = threshold
        a = idx.ask(QUESTION)
        assert not a.abstained and "三百家" in a.answer and a.short_text == short
        assert (a.short_answer is None) == (short == "")
    from rag.presentation.shapes import answer_to_json

    idx.reader.threshold = 4.0
    assert answer_to_json(idx.ask(QUESTION))["short_answer"] is None


def test_the_combined_threshold_refuses_what_it_does_not_clear(decided_idx):
    idx = decided_idx
    idx.reader.threshold = 0.0  # the margin alone would answer
    idx.reader.decision = Decision(retrieval_weight=1.0, threshold=6.0)  # 4 + a score below 1 never clears 6
    a = idx.ask(QUESTION)
    assert a.abstained and a.short_answer is None and not a.citations and a.related
    assert a.evidence["decision_score"] < 6.0 < a.evidence["decision_score"] + 2.0


class SiblingReader:
    """Surer (margin 6) of the number in the passage on talent schemes, which retrieval
    ranks low for the question, than of the number in the question's own passage (4)."""

    name, threshold, decision = "sibling-reader", -100.0, None

    def read(self, question, passages):
        out = []
        for p in passages:
            m = re.search(r"[0-9一二三四五六七八九十百千萬万億亿兩两]+[家份]", p)
            out.append(SpanScore(6.0 if "人才" in p else 4.0, 0.0, m.start(), m.end()) if m else None)
        return out


def test_the_span_with_the_best_decision_score_answers_not_the_surest(decided_idx):
    idx = decided_idx
    idx.reader = SiblingReader()
    by_margin = idx.ask(QUESTION)
    assert by_margin.short_text == "兩萬份" and by_margin.evidence["reader_margin"] == 6.0
    idx.reader.decision = Decision(retrieval_weight=100.0, threshold=-100.0)
    a = idx.ask(QUESTION)
    own = next(h for h in a.hits if "三百家" in idx.chunks[h.chunk_id].text)
    other = next(h for h in a.hits if "人才" in idx.chunks[h.chunk_id].text)
    assert own.score > other.score + 0.02  # 4 + 100 x own beats 6 + 100 x other
    assert a.short_text == "三百家" and a.evidence["reader_margin"] == 4.0
    assert a.evidence["decision_score"] == pytest.approx(4.0 + 100 * own.score, abs=1e-3)
    assert a.read_margins[0] == (own.chunk_id, 4.0)  # the order the decision answered by
    # Where the decision does not apply, the surest span answers, as before.
    assert idx.ask(QUESTION, mode="dense").evidence.get("decision_score") is None


def _write(folder: Path, **fields) -> None:
    base = {"reader_weights_sha256": "abc", "retrieval_weight": 80.0, "threshold": 73.5, "fusion": "zscore",
            "dense_weight": 0.4}
    (folder / DECISION_FILE).write_text(json.dumps(base | fields), encoding="utf-8")


def test_the_decision_file_is_used_only_for_the_weights_it_was_chosen_for(tmp_path, caplog):
    manifest = {"weights_sha256": "abc"}
    assert read_decision(manifest, tmp_path) is None  # none shipped: the margin decides
    _write(tmp_path)
    assert read_decision(manifest, tmp_path) == Decision(80.0, 73.5, "zscore", 0.4)
    caplog.set_level(logging.WARNING, logger="rag.reader.load")
    assert read_decision({"weights_sha256": "def"}, tmp_path) is None
    assert "chosen for reader weights abc" in caplog.text and "eval.tune_decision" in caplog.text
    caplog.clear()
    (tmp_path / DECISION_FILE).write_text("{not json", encoding="utf-8")
    assert read_decision(manifest, tmp_path) is None and "is damaged" in caplog.text
    caplog.clear()
    _write(tmp_path, threshold=None)
    assert read_decision(manifest, tmp_path) is None and "is damaged" in caplog.text
    caplog.clear()
    _write(tmp_path, retrieval_weight=-1.0)
    assert read_decision(manifest, tmp_path) is None and "unusable rule" in caplog.text
    # The early stop chosen with it travels in the same file; a damaged one is not used.
    _write(tmp_path, stop_margin=9.5)
    assert read_decision(manifest, tmp_path) == Decision(80.0, 73.5, "zscore", 0.4, stop_margin=9.5)
    caplog.clear()
    _write(tmp_path, stop_margin=1e9)
    assert read_decision(manifest, tmp_path) is None and "stop_margin 1000000000.0 is not between" in caplog.text


def test_the_shipped_decision_carries_the_stop_chosen_for_it():
    from eval.harness.stop_margin import CANDIDATES
    from rag.reader.load import WEIGHTS_DIR

    shipped = json.loads((WEIGHTS_DIR / DECISION_FILE).read_text(encoding="utf-8"))
    chosen = shipped["stop_margin_chosen_on"]
    assert shipped["stop_margin"] in CANDIDATES and chosen["figures"]["stop_margin"] == shipped["stop_margin"]
    # Chosen on the same held-out set as the decision, never on the benchmark, with the
    # questions also asked without their passage.
    assert chosen["sha256"] == shipped["chosen_on"]["sha256"] and not chosen["benchmark_read"] and chosen["with_removed"]
    assert chosen["figures"]["answer_changed"] == 0


def test_the_decision_file_is_used_only_with_the_answer_lengths_it_was_chosen_with(tmp_path, caplog):
    # A longer cap finds better-scoring spans, so a threshold chosen with other caps is in
    # another scale; files and manifests that do not say were made with the first cap (16).
    caplog.set_level(logging.WARNING, logger="rag.reader.load")
    caps = {"names_and_figures": 16, "other": 64}
    longer = {"weights_sha256": "abc", "features": {"max_answer_tokens": caps}}
    _write(tmp_path)
    assert read_decision({"weights_sha256": "abc", "features": {"max_answer_tokens": 16}}, tmp_path) is not None
    assert read_decision(longer, tmp_path) is None
    assert "answer spans up to {'names_and_figures': 16, 'other': 16} tokens, the reader now decodes up to " \
           "{'names_and_figures': 16, 'other': 64}" in caplog.text
    _write(tmp_path, max_answer_tokens=caps)
    assert read_decision(longer, tmp_path) == Decision(80.0, 73.5, "zscore", 0.4)
    assert read_decision({"weights_sha256": "abc"}, tmp_path) is None
    caplog.clear()
    _write(tmp_path, max_answer_tokens={"other": 64})
    assert read_decision(longer, tmp_path) is None and "is damaged" in caplog.text


def test_the_shipped_decision_was_chosen_for_the_shipped_weights_on_training_data():
    manifest = json.loads((WEIGHTS / "manifest.json").read_text(encoding="utf-8"))
    shipped = json.loads((WEIGHTS / DECISION_FILE).read_text(encoding="utf-8"))
    assert read_decision(manifest, WEIGHTS) is not None
    # Chosen on the articles the reader's recipe held out (eval.decision_set), never the benchmark.
    assert shipped["chosen_on"]["file"] == "cmrc2018_train_heldout.json" and not shipped["chosen_on"]["benchmark_read"]
    assert shipped["input"] == "fused"  # the cosine's level depends on the archive (docs/decisions.md)
    assert shipped["fusion"] == "zscore" and shipped["dense_weight"] == 0.4  # the settings' defaults
    assert shipped["figures"]["right_outcomes"] >= shipped["margin_alone"]["right_outcomes"]


# --- the tuning (pure) ---

def _asked(removed: bool, margin: float | None, retrieval: float, holds: bool) -> Asked:
    return Asked(removed, (Read(margin, retrieval, holds),) if margin is not None else ())


def test_each_weight_gets_the_threshold_with_the_most_right_outcomes():
    asked = [
        _asked(False, 2.0, 0.99, True),   # confident, its own passage: answer
        _asked(False, -5.0, 0.98, True),  # unsure reader, but its passage stands out
        _asked(True, -1.0, 0.70, False),  # a sibling article, read with some confidence
        _asked(True, None, 0.0, False),   # nothing usable: abstains under any rule
        _asked(False, -8.0, 0.60, False), # a wrong span: better refused
    ]
    margin_alone = best_threshold(asked, 0.0)
    # By margin alone the sibling (-1) sits between the two right answers (2, -5): refusing
    # it costs the unsure right answer. A wrong span for an answerable question is no worse
    # than refusing it (both miss), so on the tie the rule answers all three.
    assert margin_alone["threshold"] == -9.0 and margin_alone["right_outcomes"] == 3
    assert row(asked, 0.0, 0.5)["right_outcomes"] == 3 and row(asked, 0.0, 0.5)["refused"] == 0.6667
    weighted = best_threshold(asked, 10.0)  # scores 11.9, 4.8, 6.0 (the sibling), -2.0
    assert weighted["right_outcomes"] == 3 and weighted["threshold"] == -3.0
    strong = best_threshold(asked, 100.0)  # 101, 93, 69 (the sibling), 52: both right answers above it
    assert strong["right_outcomes"] == 4 and strong["threshold"] == 81.0
    assert strong["answer_has_reference"] == 0.6667 and strong["refused"] == 0.3333
    assert strong["own_removed_right"] == 1.0
    assert choose([margin_alone, weighted, strong]) is strong


def test_the_span_with_the_best_score_answers_under_each_weight():
    # The reader is a little surer of a sibling article's span (wrong) than of the span in
    # the question's own passage, which stands out in retrieval.
    sibling, own = Read(3.0, 0.50, False), Read(2.0, 0.95, True)
    asked = [Asked(False, (sibling, own))]
    assert asked[0].pick(0.0) is sibling and asked[0].pick(10.0) is own
    assert Asked(False, (Read(1.0, 0.5, False), Read(1.0, 0.5, True))).pick(5.0).holds is False  # tie: the first
    assert Asked(True).pick(10.0) is None
    assert row(asked, 0.0, 0.0)["answer_has_reference"] == 0.0
    assert row(asked, 10.0, 0.0)["answer_has_reference"] == 1.0
    assert best_threshold(asked, 10.0)["right_outcomes"] == 1 and best_threshold(asked, 0.0)["right_outcomes"] == 0


def test_on_a_tie_the_rule_that_refuses_less_then_the_smaller_weight_wins():
    a = {"retrieval_weight": 0.0, "threshold": 1.0, "right_outcomes": 10, "refused": 0.05}
    b = {"retrieval_weight": 40.0, "threshold": 30.0, "right_outcomes": 10, "refused": 0.03}
    c = {"retrieval_weight": 80.0, "threshold": 70.0, "right_outcomes": 10, "refused": 0.03}
    assert choose([a, b, c]) is b and choose([c, a]) is c


def test_the_decision_tuning_refuses_the_benchmark(capsys):
    from eval.harness import decision

    assert decision.main(["--file", "cmrc2018_dev.json"]) == 2
    assert "choose the answer decision on a training set" in capsys.readouterr().err


def test_the_cli_flag_chooses_the_rule():
    from rag.cli import build_parser, settings_from_args as _settings
    from rag.settings import Settings

    parse = build_parser().parse_args
    assert _settings(parse(["ask", "x"])).reading.decision == "combined" == Settings().reading.decision
    assert _settings(parse(["ask", "x", "--reader-decision", "margin"])).reading.decision == "margin"
    with pytest.raises(SystemExit):
        parse(["ask", "x", "--reader-decision", "both"])
    with pytest.raises(ValueError, match="reader_decision 'both' is not one of combined, margin"):
        Settings.of(reader_decision="both").validate()


def test_the_risk_coverage_curve_moves_the_combined_threshold(decided_idx):
    from eval.harness.runner import _AlwaysAnswers, confidence

    idx = decided_idx
    idx.reader.decision = Decision(retrieval_weight=1.0, threshold=6.0)
    forced = _AlwaysAnswers(idx.reader)
    assert forced.decision.retrieval_weight == 1.0 and forced.decision.threshold == float("-inf")
    assert idx.decision_rule("hybrid") is idx.reader.decision and idx.decision_rule("dense") is None
    from rag.api import RagIndex

    a = RagIndex(idx.loaded, idx.embedder, idx.settings, forced).ask(QUESTION)
    assert not a.abstained and confidence(a, idx.settings) == a.evidence["decision_score"]


def test_nothing_read_is_null_in_the_json_not_infinity(decided_idx):
    from rag.presentation.shapes import answer_to_json
    from rag.reader.features import SpanScore

    class EmptyReader(NumberReader):
        def read(self, question, passages):
            return [SpanScore(1.0, 3.0, 0, 0) for _ in passages]  # no usable span anywhere

    idx = decided_idx
    idx.reader = EmptyReader()
    idx.reader.decision = Decision(retrieval_weight=1.0, threshold=0.0)
    a = idx.ask(QUESTION)
    assert a.abstained and a.evidence["reader_margin"] == float("-inf") == a.evidence["decision_score"]
    out = answer_to_json(a)
    assert out["evidence"]["reader_margin"] is None and out["evidence"]["decision_score"] is None
    assert out["no_answer_score"] is None
    json.dumps(out, allow_nan=False)  # strict JSON


def test_a_filter_that_leaves_fewer_chunks_than_a_leg_takes_lets_the_margin_decide():
    """The combined decision weighs a fused score standardised over each leg's candidates
    (Settings.candidates); with one short article there are one or two, the score means
    something else, and the reader's own margin decides (issue 33: the article filter)."""
    from types import SimpleNamespace

    from rag.reader.answerer import ReaderAnswerer
    from rag.reader.decide import Decision
    from rag.settings import Settings

    settings = Settings()
    rule = Decision(80.0, 73.3, settings.fusion, settings.dense_weight)
    answerer = ReaderAnswerer(SimpleNamespace(name="r", threshold=-3.0, decision=rule), settings)
    assert answerer.decision_rule("hybrid") is rule  # no filter
    assert answerer.decision_rule("hybrid", settings.candidates) is rule  # enough candidates
    assert answerer.decision_rule("hybrid", 2) is None  # one short article
    assert answerer.decision_rule("bm25") is None


def test_the_cosine_rule_means_the_same_under_any_filter_and_fusion():
    """The passage's cosine with the question does not depend on the other candidates, so
    a rule on it holds with one short article as with the whole archive (issue 33)."""
    from types import SimpleNamespace

    from rag.reader.answerer import ReaderAnswerer
    from rag.settings import Settings

    settings = Settings()
    rule = Decision(240.0, 210.0, settings.fusion, settings.dense_weight, input="dense")
    span = ReadSpan("a#0", "a", 0, 2, margin=-2.0, sentence=(0, 5), retrieval=0.1, dense=0.9)
    assert rule.score(span) == pytest.approx(-2.0 + 240 * 0.9)
    answerer = ReaderAnswerer(SimpleNamespace(name="r", threshold=-3.0, decision=rule), settings)
    assert answerer.decision_rule("hybrid", 2) is rule  # one short article: still the rule
    assert answerer.decision_rule("hybrid") is rule
    assert rule.applies("hybrid", "rrf", 0.7)  # any fusion
    assert not rule.applies("bm25", "zscore", 0.4) and not rule.applies("dense", "zscore", 0.4)


def test_a_decision_file_may_weigh_the_cosine(tmp_path):
    manifest = json.loads((WEIGHTS / "manifest.json").read_text(encoding="utf-8"))
    d = json.loads((WEIGHTS / DECISION_FILE).read_text(encoding="utf-8"))
    assert read_decision(manifest, WEIGHTS).input == "fused"  # shipped: docs/decisions.md says why
    d |= {"input": "dense", "retrieval_weight": 240.0, "threshold": 210.071}
    (tmp_path / DECISION_FILE).write_text(json.dumps(d), encoding="utf-8")
    rule = read_decision(manifest, tmp_path)
    assert rule.input == "dense" and rule.retrieval_weight == 240.0


def test_a_decision_file_with_an_unknown_input_is_not_used(tmp_path, caplog):
    manifest = json.loads((WEIGHTS / "manifest.json").read_text(encoding="utf-8"))
    d = json.loads((WEIGHTS / DECISION_FILE).read_text(encoding="utf-8"))
    d["input"] = "bm25"
    (tmp_path / DECISION_FILE).write_text(json.dumps(d), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert read_decision(manifest, tmp_path) is None
    assert "damaged" in caplog.text


def test_the_tuning_tries_the_cosine():
    asked = [Asked(False, (Read(-5.0, 0.2, True, 0.9),)), Asked(True, (Read(-4.0, 0.9, False, 0.7),))]
    fused = best_threshold(asked, 80.0)
    dense = best_threshold(asked, 80.0, "dense")
    assert dense["input"] == "dense" and dense["right_outcomes"] == 2  # the cosine tells them apart
    assert fused["right_outcomes"] == 1  # the fused score ranks the removed passage higher


def test_the_heldout_decision_set_keeps_the_held_out_articles_questions_among_others_without_any():
    """``eval.decision_set``: the held-out articles with their questions, other articles
    (drawn with a fixed seed) as the corpus around them without theirs, the size asked,
    and the source not changed."""
    from eval.decision_set import heldout_file

    def article(i: int, q: int) -> dict:
        return {"title": f"t{i}", "paragraphs": [{"context": f"passage {i}", "qas": [
            {"id": f"{i}-{k}", "question": f"q{i}{k}？", "answers": [{"text": "x", "answer_start": 0}]}
            for k in range(q)]}]}

    source = {"data": [article(i, 2) for i in range(10)]}
    out = heldout_file(source, {"cmrc-train-1", "cmrc-train-7"}, size=5)
    kept = [a["title"] for a in out["data"]]
    assert len(kept) == 5 and {"t1", "t7"} <= set(kept)
    assert {a["title"]: len(a["paragraphs"][0]["qas"]) for a in out["data"]} == {t: 2 * (t in ("t1", "t7")) for t in kept}
    assert heldout_file(source, {"cmrc-train-1", "cmrc-train-7"}, size=5) == out  # the same draw every time
    assert all(len(a["paragraphs"][0]["qas"]) == 2 for a in source["data"])


def test_the_ablation_switches_one_check_off_and_puts_it_back():
    """``eval.rule_ablation``: a check switched off no longer drops spans inside its context
    only, and the figures count an abstention with the passage removed as right."""
    from rag.reader import decide
    from eval.rule_ablation import _switched_off, summarise

    question = "香港科技園公司今年新增了多少家初創企業？"
    assert decide.asks_quantity(question)
    with _switched_off("quantity"):
        assert not decide.asks_quantity(question)
    assert decide.asks_quantity(question)
    with _switched_off("qualifier"):
        assert decide.trim("率约九成", 2, 4) == (2, 4)
    assert decide.trim("率约九成", 2, 4) == (1, 4)
    # (removed, abstained, holds, short F1, short EM, sentences quoted, of them without a
    # reference): right (two sentences, one without), refused, right (abstained), wrong
    # (answered elsewhere, no reference; its sentences are not counted: not a kept asking)
    figures = summarise([(False, False, True, 1.0, 1.0, 2, 1), (False, True, False, 0.0, 0.0, 0, 0),
                         (True, True, False, 0.0, 0.0, 0, 0), (True, False, False, 0.0, 0.0, 1, 1)])
    assert figures == {"right_outcomes": 2, "answer_has_reference": 0.5, "refused": 0.5, "own_removed_right": 0.5,
                       "short_f1": 50.0, "short_em": 50.0, "sentences_per_answer": 2.0,
                       "sentences_without_reference": 0.5}
