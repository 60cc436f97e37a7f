"""Measure trained reader weights on the held-out articles: F1 and EM given the passage, the
decision's accuracy, the no-answer threshold chosen as the product decides (the best of
three passages), and the longest answer spans."""
from __future__ import annotations

from eval.harness.metrics import char_f1, exact_match
from rag.reader.features import ANSWER_TOKEN_CHOICES, AnswerCaps

from .reader_data import Example, Ranker, bm25_ranker


ANSWER_TOKEN_SLACK = 0.25  # F1 points: one question of the 360 held out moves F1 by up to 0.28


def _best_read(net, tokenizer, question: str, passages: list[str],
               caps: AnswerCaps = AnswerCaps()) -> tuple[float, str]:
    """The pipeline's decision over several passages: the best span's margin and text."""
    from rag.reader.infer import read_passages, torch_forward

    best, text = -1e9, ""
    for p, sp in zip(passages, read_passages(torch_forward(net), tokenizer, question, passages,
                                             max_answer_tokens=caps.for_question(question))):
        if sp is not None and sp.score - sp.null > best:
            best, text = sp.score - sp.null, p[sp.start:sp.end]
    return best, text


def choose_answer_caps(net, tokenizer, dev_pos: list[Example],
                       choices: tuple[int, ...] = ANSWER_TOKEN_CHOICES) -> tuple[AnswerCaps, dict[str, float]]:
    """The longest answer spans the decoder considers (``AnswerCaps``: for questions asking
    a name, a time, a place or a figure, and for the others), and F1 given the passage on
    held-out articles for every pair of caps ("16/64"): the shortest pair within
    ``ANSWER_TOKEN_SLACK`` of the best F1 (closer than one question's worth is noise, and
    a longer span weakens the checks on its words). CMRC's answers include descriptions
    ("有什么特点？") longer than DRCD's names and figures."""
    from rag.reader.infer import decode, read_logits, torch_forward

    forward = torch_forward(net)
    reads = [read_logits(forward, tokenizer, e.question, [e.passage]) for e in dev_pos]
    f1: dict[AnswerCaps, float] = {}
    for short in choices:
        for other in choices:
            caps, total = AnswerCaps(short, other), 0.0
            for e, read in zip(dev_pos, reads):
                sp = decode(read, 1, caps.for_question(e.question))[0]
                total += char_f1(e.passage[sp.start:sp.end] if sp else "", e.answers)
            f1[caps] = round(100 * total / max(1, len(dev_pos)), 2)
    return shortest_near_best(f1), {f"{c.names_and_figures}/{c.other}": v for c, v in f1.items()}


def shortest_near_best(f1: dict[AnswerCaps, float], slack: float = ANSWER_TOKEN_SLACK) -> AnswerCaps:
    """The caps whose F1 is within ``slack`` points of the best with the fewest tokens
    between them (on a tie the shorter cap for names and figures)."""
    top = max(f1.values())
    return min((c for c, v in f1.items() if v >= top - slack), key=lambda c: (c.names_and_figures + c.other,
                                                                               c.names_and_figures))


def pipeline_threshold(net, tokenizer, dev_pos: list[Example], passages: list[str], k: int = 3,
                       ranker: Ranker | None = None, caps: AnswerCaps = AnswerCaps()) -> dict:
    """The threshold as the product uses it: the best margin over the ``k`` passages
    read for a question. Each held-out answerable question is read twice: with its own
    passage among the best-ranked passages of the training pool (``ranker``: BM25 when
    not given), and with its own passage
    removed (then an answer is right only if it holds a reference answer). The
    threshold minimises the wrong outcomes of both (refusing or misanswering the first,
    answering the second wrongly), on held-out training articles only."""
    ranker = ranker or bm25_ranker(passages, k + 2)
    with_gold, without = [], []
    for e in dev_pos:
        others = [passages[r] for r in ranker(e.question)[: k + 2] if passages[r] != e.passage][:k]
        m, text = _best_read(net, tokenizer, e.question, [e.passage] + others[: k - 1], caps)
        with_gold.append((m, any(a and a in text for a in e.answers) or exact_match(text, e.answers) > 0))
        m, text = _best_read(net, tokenizer, e.question, others, caps)
        without.append((m, bool(text) and any(a and a in text for a in e.answers)))
    margins = sorted({m for m, _ in with_gold + without})
    best = None
    for t in margins[:: max(1, len(margins) // 500)] + [margins[-1]]:
        errors = sum(not (m > t and right) for m, right in with_gold) + sum(m > t and not right for m, right in without)
        if best is None or errors < best[0]:
            best = (errors, t)
    assert best is not None
    t = best[1]
    n = max(1, len(dev_pos))
    return {
        "threshold": round(t, 3), "passages": k, "questions": len(dev_pos),
        "answer_has_reference": round(sum(m > t and right for m, right in with_gold) / n, 4),
        "answerable_refused": round(sum(m <= t for m, _ in with_gold) / n, 4),
        "own_passage_removed_right": round(sum(m <= t or right for m, right in without) / n, 4),
    }


def heldout_metrics(net, tokenizer, dev_pos: list[Example], dev_neg: list[Example],
                    caps: AnswerCaps = AnswerCaps()) -> dict:
    """EM/F1 given the passage, and the single-passage answer/no-answer separation."""
    def margin_and_text(e: Example) -> tuple[float, str]:
        return _best_read(net, tokenizer, e.question, [e.passage], caps)

    pos = [margin_and_text(e) for e in dev_pos]
    neg = [margin_and_text(e)[0] for e in dev_neg]
    em = sum(exact_match(t, e.answers) for (_, t), e in zip(pos, dev_pos)) / max(1, len(pos))
    f1s = sum(char_f1(t, e.answers) for (_, t), e in zip(pos, dev_pos)) / max(1, len(pos))
    candidates = sorted({m for m, _ in pos} | set(neg))
    best_t, best_acc = 0.0, -1.0
    for t in candidates[:: max(1, len(candidates) // 400)]:
        acc = (sum(m > t for m, _ in pos) + sum(m <= t for m in neg)) / max(1, len(pos) + len(neg))
        if acc > best_acc:
            best_t, best_acc = t, acc
    return {
        "heldout_answerable": len(pos), "heldout_unanswerable": len(neg),
        "em_given_passage": round(100 * em, 1), "f1_given_passage": round(100 * f1s, 1),
        "single_passage_threshold": round(best_t, 3), "decision_accuracy": round(best_acc, 4),
        "answered_when_answerable": round(sum(m > best_t for m, _ in pos) / max(1, len(pos)), 4),
        "abstained_when_unanswerable": round(sum(m <= best_t for m in neg) / max(1, len(neg)), 4),
    }
