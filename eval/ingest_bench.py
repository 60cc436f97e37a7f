"""Measure extraction per format on the seed articles rendered as news pages, PDFs and
Word files (``tests/data/ingest``, built by its ``build.py``):

- kept: the share of the article's characters (title, headings, paragraphs) found, in
  order, in the extracted text;
- leaked: the share of the extracted text's characters that are not the article's
  (navigation, ads, spam, related links, comments, running headers, page numbers);
- for PDFs, pages: the share of the article's paragraphs whose page, as the extracted
  text's page map gives it, is the page pypdf finds the paragraph on.

Whitespace and Markdown heading marks ("# ", "## ") are not counted. HTML is measured for
trafilatura (the product's reader) beside readability-lxml and jusText, PDF for the
product's pdfminer.six reader beside pypdf's plain text. Run: ``python -m eval.ingest_bench
[--json]``; the figures are in docs/ingest.md.
"""
from __future__ import annotations

import argparse
import difflib
import io
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "ingest"
_MARKS = re.compile(r"(?m)^#{1,6}\s+")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", _MARKS.sub("", text))


def kept_leaked(article: str, extracted: str) -> tuple[float, float]:
    """(share of the article's characters matched in order, share of the extracted
    characters that match no article character)."""
    a, b = squeeze(article), squeeze(extracted)
    if not a or not b:
        return (0.0 if a else 1.0), (0.0 if not b else 1.0)
    matched = sum(m.size for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return matched / len(a), 1 - matched / len(b)


def gold_article(gold: dict) -> str:
    return "\n".join([gold["title"]] + gold["paragraphs"])


def html_candidates() -> dict:
    from rag.ingest.html import HtmlReader

    out = {"trafilatura (product)": lambda data: HtmlReader().extract(data, "x").text}
    try:
        from readability import Document as Readability
        import lxml.html

        out["readability-lxml"] = lambda data: lxml.html.fromstring(
            Readability(data.decode("utf-8")).summary()).text_content()
    except ImportError:
        pass
    try:
        import justext

        out["jusText (no Chinese stoplist: English's)"] = lambda data: "\n".join(
            p.text for p in justext.justext(data, justext.get_stoplist("English")) if not p.is_boilerplate)
    except ImportError:
        pass
    return out


def pdf_candidates() -> dict:
    from rag.ingest.pdf import PdfReader

    out = {"pdfminer.six (product)": lambda data: PdfReader().extract(data, "x")}
    try:
        import pypdf

        out["pypdf extract_text"] = lambda data: "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    except ImportError:
        pass
    return out


def chrome_leaked(gold: dict, text: str) -> list[str]:
    """The site's chrome and running headers (of at least four characters) found in ``text``."""
    flat = squeeze(text)
    return [s for s in gold["chrome"] + gold["running"] if len(squeeze(s)) >= 4 and squeeze(s) in flat]


def paragraph_keys(gold: dict) -> list[str]:
    """The first characters of each gold paragraph long enough to be found by them alone."""
    return [key for para in gold["paragraphs"] if len(key := squeeze(para)[:14]) >= 8]


def page_accuracy(data: bytes, gold: dict, extracted) -> tuple[int, int]:
    """(paragraphs whose page the extracted page map gives right, paragraphs located in
    both the extracted text and pypdf's reading of the pages)."""
    from rag.ingest.base import page_at

    truth = pdf_pages(data, gold)
    right = located = 0
    for key in paragraph_keys(gold):
        # The paragraph in the extracted text: its first characters, whitespace ignored.
        m = re.search(r"\s*".join(re.escape(ch) for ch in key), extracted.text)
        pages = [i + 1 for i, t in enumerate(truth) if re.sub(r"\W", "", key) in t]
        if m is None or not pages:
            continue
        located += 1
        right += page_at(extracted.pages, m.start()) in pages
    return right, located


def pdf_pages(data: bytes, gold: dict) -> list[str]:
    """Each page's letters as pypdf reads them (its order of drawn runs may differ from
    the product's), without the running header and page number."""
    import pypdf

    out = []
    for p in pypdf.PdfReader(io.BytesIO(data)).pages:
        text = re.sub(r"第\s*\d+\s*頁", "", p.extract_text())
        for running in gold["running"]:
            text = text.replace(running, "")
        out.append(re.sub(r"\W", "", text))
    return out


def on_page(truth: list[str], page: int, quote: str) -> bool:
    """Whether a quote starts on ``page`` (1-based) of a PDF whose pages pypdf read as
    ``truth`` (letters only): on that page, or begun there and carried over to the next."""
    key = re.sub(r"\W", "", quote)[:12]
    if not 1 <= page <= len(truth) or not key:
        return False
    here = truth[page - 1]
    return key in here or (key[:2] in here[-len(key):] and key in here + (truth[page] if page < len(truth) else ""))


def citation_pages(report: Path, index: Path) -> tuple[int, int]:
    """(citations whose page is right, citations) over every answer of a harness run on
    the PDF corpus (``python -m eval run --corpus <the PDFs> --index INDEX``)."""
    from rag.ingest.base import page_at

    docs = {}
    for line in (index / "documents.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        docs[d["doc_id"]] = tuple(tuple(p) for p in d.get("pages", []))
    run = json.loads(report.read_text(encoding="utf-8"))
    truth: dict[str, list[str]] = {}
    right = total = 0
    for rows in run["questions"].values():
        for row in rows:
            for c in row.get("citations", []):
                d = c["doc_id"]
                if d not in truth:
                    gold = json.loads((DATA / "gold" / f"{d}.json").read_text(encoding="utf-8"))
                    truth[d] = pdf_pages((DATA / "pdf" / f"{d}.pdf").read_bytes(), gold)
                total += 1
                right += on_page(truth[d], page_at(docs[d], c["start"]), c["quote"])
    return right, total


def measure() -> list[dict]:
    rows = []
    golds = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((DATA / "gold").glob("*.json"))}
    for kind, candidates in (("html", html_candidates()), ("pdf", pdf_candidates()), ("docx", None)):
        if candidates is None:
            from rag.ingest.docx import DocxReader

            candidates = {"python-docx (product)": lambda data: DocxReader().extract(data, "x").text}
        for name, fn in candidates.items():
            kept, leaked, chars, secs, right, located, chrome = [], [], 0, 0.0, 0, 0, 0
            for doc_id, gold in golds.items():
                data = (DATA / kind / f"{doc_id}.{kind}").read_bytes()
                t0 = time.perf_counter()
                got = fn(data)
                secs += time.perf_counter() - t0
                text = got if isinstance(got, str) else got.text
                k, lk = kept_leaked(gold_article(gold), text)
                kept.append(k)
                leaked.append(lk)
                chars += len(squeeze(gold_article(gold)))
                chrome += len(chrome_leaked(gold, text))
                if kind == "pdf" and not isinstance(got, str):
                    r, n = page_accuracy(data, gold, got)
                    right, located = right + r, located + n
            row = {"format": kind, "extractor": name, "files": len(golds), "article_chars": chars,
                   "kept": round(min(kept), 4), "kept_mean": round(sum(kept) / len(kept), 4),
                   "leaked": round(max(leaked), 4), "leaked_mean": round(sum(leaked) / len(leaked), 4),
                   "chrome_strings_leaked": chrome, "seconds": round(secs, 2)}
            if located:
                row["pages_right"] = f"{right}/{located}"
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.ingest_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON list of rows")
    ap.add_argument("--citations", nargs=2, metavar=("REPORT", "INDEX"), type=Path,
                    help="instead: check the page of every citation of a harness run over the PDF corpus")
    args = ap.parse_args(argv)
    if args.citations:
        right, total = citation_pages(*args.citations)
        print(f"PDF citations with the right page: {right} of {total}")
        return 0 if right == total else 1
    rows = measure()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print("| format | extractor | kept (worst file / mean) | leaked (worst / mean) | chrome strings leaked | PDF pages right | s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['format']} | {r['extractor']} | {r['kept']:.3f} / {r['kept_mean']:.3f} | {r['leaked']:.3f} / "
              f"{r['leaked_mean']:.3f} | {r['chrome_strings_leaked']} | {r.get('pages_right', '')} | {r['seconds']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
