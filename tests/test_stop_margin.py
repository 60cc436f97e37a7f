"""The reader's early stop: the tuning table and choice (pure), the read cache, and the
evaluation's corpus folders for training sets (never mixed with the benchmark's)."""
import argparse
import json

from eval.harness import run as runner
from eval.harness.stop_margin import Asked, CachedReader, choose, table
from rag.reader.features import SpanScore

RIGHT, WRONG, REFUSED = (False, True, 1.0, 1.0), (False, False, 0.0, 0.0), (True, False, 0.0, 0.0)


def test_each_margin_takes_the_first_passage_answer_only_where_it_is_confident_enough():
    asked = [Asked(9.0, RIGHT, RIGHT),   # confident and the same either way
             Asked(5.0, RIGHT, WRONG),   # stopping at 5 would lose this one
             Asked(1.0, RIGHT, RIGHT),
             Asked(None, REFUSED, REFUSED)]
    rows = table(asked, candidates=(4.0, 6.0, 10.0))
    off, at4, at6, at10 = rows
    assert off["stop_margin"] is None and off["stopped_after_first"] == 0 and off["answer_has_reference"] == 0.75
    assert at4["stopped_after_first"] == 0.5 and at4["answer_has_reference"] == 0.5 and at4["changed"] == 1
    assert at6["stopped_after_first"] == 0.25 and at6["answer_has_reference"] == 0.75 and at6["changed"] == 0
    assert at10["stopped_after_first"] == 0 and at10["refused"] == 0.25
    assert choose(rows)["stop_margin"] == 6.0  # the smallest from which on nothing changes
    gained = table([Asked(5.0, WRONG, RIGHT), Asked(8.0, RIGHT, RIGHT)], candidates=(4.0, 6.0, 10.0))
    assert choose(gained)["stop_margin"] == 6.0  # a change for the better is still a change
    # Where only the sentences other passages add differ (the answer itself is the same),
    # the loss is counted but does not hold the stop up.
    extras = table([Asked(5.0, RIGHT, WRONG, only_extras=True), Asked(8.0, RIGHT, RIGHT)], candidates=(4.0, 6.0))
    assert extras[1]["changed"] == 1 and extras[1]["answer_changed"] == 0 and extras[1]["answer_has_reference"] == 0.5
    assert choose(extras)["stop_margin"] == 4.0


def test_the_answer_itself_is_its_abstention_first_sentence_and_short_answer():
    from eval.harness.stop_margin import own_answer

    cite = {"chunk_id": "a#0", "start": 0, "end": 9, "quote": "…"}
    one = {"abstained": False, "citations": [cite], "short_answer": "三百家"}
    more = one | {"citations": [cite, {"chunk_id": "b#0", "start": 3, "end": 7, "quote": "…"}]}
    assert own_answer(one) == own_answer(more)  # another passage's sentence added: the same answer
    assert own_answer(one) != own_answer(one | {"short_answer": "三百"})
    assert own_answer(one) != own_answer(one | {"citations": [cite | {"chunk_id": "c#0"}]})
    assert own_answer({"abstained": True, "citations": [], "short_answer": None}) != own_answer(one)


def test_reads_are_cached_per_question_and_passage():
    calls = []

    class Counting:
        name, threshold = "counting", 0.0

        def read(self, question, passages):
            calls.append(list(passages))
            return [SpanScore(float(len(p)), 0.0, 0, 1) for p in passages]

    r = CachedReader(Counting())
    first = r.read("q", ["甲乙", "丙"])
    again = r.read("q", ["丙", "甲乙", "丁丁丁"])
    assert calls == [["甲乙", "丙"], ["丁丁丁"]]
    assert again[:2] == [first[1], first[0]] and again[2].score == 3.0
    r.read("another", ["丙"])
    assert calls[-1] == ["丙"]  # another question is read afresh


def test_another_squad_file_gets_its_own_corpus_folder(tmp_path, monkeypatch):
    def squad(pid):
        return {"data": [{"title": "t", "paragraphs": [
            {"id": pid, "context": "香港科技園今年新增三百家初創企業。", "qas": [
                {"id": f"{pid}_Q", "question": "新增多少家？", "answers": [{"text": "三百家", "answer_start": 7}]},
                {"id": f"{pid}_EMPTY", "question": " ", "answers": [{"text": "三百家", "answer_start": 7}]}]}]}]}

    dev, trial = tmp_path / "cmrc2018_dev.json", tmp_path / "cmrc2018_trial.json"
    dev.write_text(json.dumps(squad("DEV_1")), encoding="utf-8")
    trial.write_text(json.dumps(squad("TRIAL_1")), encoding="utf-8")
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    args = argparse.Namespace(dataset="cmrc", cmrc_file=str(dev), corpus=None)
    items, dev_folder, dev_name = runner.prepare(args)
    assert [i.id for i in items] == ["DEV_1_Q"]  # a question without text is left out, not asked
    _, trial_folder, trial_name = runner.prepare(argparse.Namespace(dataset="cmrc", cmrc_file=str(trial), corpus=None))
    assert dev_name == "cmrc" and trial_name == "cmrc-cmrc2018_trial" and dev_folder != trial_folder
    assert sorted(p.name for p in dev_folder.iterdir()) == ["DEV_1.txt"]
    assert sorted(p.name for p in trial_folder.iterdir()) == ["TRIAL_1.txt"]
