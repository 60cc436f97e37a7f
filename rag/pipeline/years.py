"""The year a question asks about against the year its answer is of. A journalist checks
the year first: "2025年…总数是多少？" answered with a figure the source gives for 2024 is
wrong, however well the rest matches. Pure functions over folded text."""
from __future__ import annotations

import re

# An explicit year: "2024年", "2024 年" (not a phone number, not "20245").
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")


def asked_year(folded_question: str) -> str | None:
    """The one year the question names, or None (no year, or several: "2023年和2024年…")."""
    years = set(YEAR.findall(folded_question))
    return years.pop() if len(years) == 1 else None


def year_of_answer(before_answer: str) -> str | None:
    """The year the answer's fact is dated with: the last year written in its sentence up
    to the answer's end (``before_answer``, folded: "《2025年…统计》，2024年…总数47210人"
    gives 2024; "由2023年的6.02万人增至2028年的9.64万人" gives 2028), or None when the
    sentence dates nothing there (the date may be elsewhere: nothing to check)."""
    years = YEAR.findall(before_answer)
    return years[-1] if years else None


def other_year(folded_question: str, before_answer: str) -> tuple[str, str] | None:
    """(asked, found) when the question asks about one year and the answer is dated
    with another, else None."""
    asked = asked_year(folded_question)
    found = year_of_answer(before_answer) if asked else None
    return (asked, found) if asked and found and found != asked else None
