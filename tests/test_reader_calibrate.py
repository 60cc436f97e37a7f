"""The reader's decision: its features, its manifest form, and the fit that chooses it
(logistic score, threshold, early exit) on hand-made calibration questions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rag.reader.calibrate import (Asked, Row, choose_early_exit, choose_threshold, cross_validate, figures,
                                  fit_decision, fit_logistic, holds_reference)
from rag.reader.decide import FEATURES, Decision, ReadSpan, missing_terms

IDF = {"黑尾前肛鳗": 8.0, "体长": 3.0, "体高": 3.0}.get


def test_missing_terms_weighs_the_rare_words_the_context_lacks():
    terms = ["黑尾前肛鳗", "体长", "体高"]
    assert missing_terms(terms, lambda t: IDF(t, 1.0), "黑尾前肛鳗体长为体高的20.1倍") == (0.0, 0.0)
    share, rarest = missing_terms(terms, lambda t: IDF(t, 1.0), "线蚓鳗体长为体高的23倍")
    assert share == pytest.approx(8 / 14) and rarest == 1.0
    share, rarest = missing_terms(terms, lambda t: IDF(t, 1.0), "黑尾前肛鳗生活在深海")
    assert share == pytest.approx(6 / 14) and rarest == 0.0
    assert missing_terms([], lambda t: 1.0, "任何") == (0.0, 0.0)
    # A repeated term counts once.
    assert missing_terms(["体长", "体长"], lambda t: 1.0, "体高") == (1.0, 1.0)


def test_decision_round_trips_through_the_manifest_and_falls_back_to_the_margin():
    d = Decision((1.5, -0.5, -0.25), 0.3, -0.2, (1.0, 0.2, 0.1), (2.0, 0.3, 0.3), 1.7)
    back = Decision.from_manifest({"decision": d.to_manifest()})
    assert back.threshold == d.threshold and back.early_exit == d.early_exit
    assert back.score((3.0, 0.5, 1.0)) == pytest.approx(d.score((3.0, 0.5, 1.0)), abs=1e-5)
    # A manifest from before the decision: the margin against its threshold.
    old = Decision.from_manifest({"no_answer_threshold": -2.5})
    assert old.score((4.0, 1.0, 1.0)) == 4.0 and old.threshold == -2.5 and old.early_exit is None
    with pytest.raises(ValueError, match="recalibrate"):
        Decision.from_manifest({"decision": d.to_manifest() | {"features": ["margin"]}})
    loose = d.without_abstention()
    assert loose.threshold == -math.inf and loose.early_exit is None and loose.score((1, 0, 0)) == d.score((1, 0, 0))


def test_only_a_confident_first_passage_exits_early():
    d = Decision((1.0, 0.0, 0.0), 0.0, 0.0, early_exit=2.0)
    span = lambda score, rank: ReadSpan("c", "d", 0, 1, score, (0, 1), score, (score, 0, 0), rank)  # noqa: E731
    assert d.exits(span(3.0, 0)) and not d.exits(span(1.0, 0)) and not d.exits(span(3.0, 1))
    assert not Decision.margin_only(0.0).exits(span(9.0, 0))


def _asked(rng: np.random.Generator, n: int) -> list[Asked]:
    """Questions whose right spans have a high margin and name the question's rare words;
    wrong spans often have a high margin too, but miss those words."""
    out = []
    for q in range(n):
        right = Row((rng.normal(4, 1.5), rng.uniform(0, .2), 0.0), True, 0)
        wrong = [Row((rng.normal(2, 1.5), rng.uniform(.4, 1), 1.0), False, k) for k in (1, 2)]
        out.append(Asked(f"a{q % 40}", False, (right, *wrong)))
        out.append(Asked(f"a{q % 40}", True, tuple(Row(r.features, False, k) for k, r in enumerate(wrong))))
    return out


def test_the_fitted_decision_makes_fewer_mistakes_than_the_margin_alone():
    rng = np.random.default_rng(0)
    asked = _asked(rng, 120)
    d = fit_decision(asked)
    assert len(d.weights) == len(FEATURES) and d.weights[0] > 0 and d.weights[1] < 0
    fitted = figures(asked, lambda r: d.score(r.features), d.threshold, d.early_exit)
    margin = lambda r: r.features[0]  # noqa: E731
    alone = figures(asked, margin, choose_threshold(asked, margin))
    assert fitted["wrong"] < alone["wrong"] / 2, (fitted, alone)
    # Early exit adds no mistake on the data it was chosen on, and does skip passages.
    reading_all = figures(asked, lambda r: d.score(r.features), d.threshold)
    assert fitted["wrong"] <= reading_all["wrong"] and fitted["first_passage_only"] > 0.3
    cv = cross_validate(asked)
    assert cv["decision"]["wrong"] < cv["margin_only"]["wrong"]


def test_threshold_and_early_exit_on_a_hand_made_set():
    # Right spans score 5 and 3, a wrong one 4: answering above 4 errs once (refuses the
    # 3), answering everything errs once (answers the 4), answering above 3 errs twice:
    # the lowest of the best thresholds is kept.
    asked = [Asked("a", False, (Row((5.0, 0, 0), True, 0),)), Asked("b", False, (Row((3.0, 0, 0), True, 0),)),
             Asked("c", True, (Row((4.0, 0, 0), False, 0),))]
    score = lambda r: r.features[0]  # noqa: E731
    t = choose_threshold(asked, score)
    assert figures(asked, score, t)["wrong"] == 1 and t < 3.0
    assert figures(asked, score, 3.0)["wrong"] == 2 and figures(asked, score, 4.0)["wrong"] == 1
    # A first passage scoring 4 whose second passage scores higher and right: exiting at 4
    # would err, so the exit is not below 4 (a span must score above it).
    two = [Asked("x", False, (Row((4.0, 0, 0), False, 0), Row((6.0, 0, 0), True, 1))),
           Asked("y", False, (Row((7.0, 0, 0), True, 0), Row((1.0, 0, 0), False, 1)))]
    exit_ = choose_early_exit(two, score, 0.0)
    assert exit_ >= 4.0 and figures(two, score, 0.0, exit_)["wrong"] == 0  # taken only above it
    assert figures(two, score, 0.0, 3.9)["wrong"] == 1


def test_calibration_needs_both_kinds_of_span():
    with pytest.raises(ValueError, match="both|hold a reference"):
        fit_decision([Asked("a", False, (Row((1.0, 0, 0), True, 0),))])


def test_fit_logistic_is_deterministic_and_separates():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    a, b = fit_logistic(x, y), fit_logistic(x, y)
    assert np.array_equal(a[2], b[2]) and a[2][0] > 0
    assert holds_reference("黑尾前肛鳗體長為體高的20.1倍", ["20.1倍"]) and not holds_reference("23倍", ["20.1倍"])
