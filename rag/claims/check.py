"""The archive's verdict on one claim: the retrieved sentences judged by the comparison
of meaning (``claims.verdict.judge``), the best verdict chosen and its evidence verified
like a citation."""
from __future__ import annotations

from typing import Sequence

from .. import answering
from ..index import LoadedIndex
from ..records import ClaimCheck, Hit
from ..settings import Settings
from ..text.fold import fold
from ..text.tagging import Tagger
from .verdict import CONTRADICTED, PARTLY, SUPPORTED, judge

REFERENT_CHARS = 3000


def check_claim(claim: str, hits: Sequence[Hit], ix: LoadedIndex, settings: Settings, tagger: Tagger,
                nearest: int = 3) -> ClaimCheck:
    """Supported, contradicted (with what the archive says instead), partly supported
    (with what is missing) or not found (the nearest passages, as related only).
    ``claim`` is checked; ``hits`` are its retrieved passages, best first."""
    folded = fold(claim, settings.fold_target)
    scored = answering.score_sentences(folded, hits[:6], ix.chunk_by_id, ix.documents, ix.bm25.idf,
                                       settings.fold_target)
    best: dict[str, tuple | None] = {SUPPORTED: None, CONTRADICTED: None, PARTLY: None}
    target = settings.fold_target
    for s in scored[:20]:
        chunk, text = ix.chunk_by_id[s.chunk_id], ix.documents[s.doc_id].text
        prev = chunk.starts_before(s.start)
        before = fold(text[prev[-1]:s.start], target) if prev else ""
        earlier = fold(text[prev[0]:prev[-1]], target) if len(prev) > 1 else ""
        # The document before the passage (its headline, the places it named) is what
        # "在此" points to; a bounded stretch, as a reader would look back.
        referents = fold(text[max(0, s.start - REFERENT_CHARS):(prev[0] if prev else s.start)], target)
        j = judge(folded, fold(text[s.start:s.end], target), ix.bm25.idf, before, earlier, tagger, referents)
        if j.verdict in best and (best[j.verdict] is None or j.topic > best[j.verdict][0].topic):
            best[j.verdict] = (j, s)
    sup, con, part = best[SUPPORTED], best[CONTRADICTED], best[PARTLY]
    # A contradiction that is much closer to the claim than the best support wins:
    # "2019年发布蓝图" agrees in its year with some sentence of 2019, and disagrees
    # with the sentence about the blueprint itself. Against a partial match it wins
    # only when it is at least as close (a paraphrase matches its own sentence in
    # part and some other sentence's figures not at all).
    if con and (not sup or con[0].topic >= sup[0].topic + 0.2):
        order = (CONTRADICTED, SUPPORTED, PARTLY)
    elif sup:
        order = (SUPPORTED, CONTRADICTED, PARTLY)
    else:
        order = (CONTRADICTED, PARTLY) if con and (not part or con[0].topic >= part[0].topic) else \
            (PARTLY, CONTRADICTED)
    for verdict in order:
        found = best[verdict]
        if found is not None:
            j, s = found
            cits = answering.make_citations([s], ix.chunk_by_id, ix.documents)
            if cits:
                # Figures and names as written (the comparison ran on folded text).
                said = tuple(_as_written(x, folded, claim) for x in j.claim_says)
                archive = tuple(_as_written(x, fold(cits[0].quote, target), cits[0].quote) for x in j.archive_says)
                missing = tuple(_as_written(x, folded, claim) for x in j.missing)
                return ClaimCheck(claim, verdict, tuple(cits), said, archive, j.topic, missing=missing,
                                  kinds=j.kinds)
    related = answering.make_citations(scored[:nearest], ix.chunk_by_id, ix.documents)
    return ClaimCheck(claim, "not_found", related=tuple(related))


def _as_written(piece: str, folded: str, original: str) -> str:
    """``piece`` of ``folded`` as ``original`` writes it (folding keeps length for
    almost all text; when it did not, the folded piece is shown)."""
    i = folded.find(piece)
    return original[i:i + len(piece)] if i >= 0 and len(folded) == len(original) else piece
