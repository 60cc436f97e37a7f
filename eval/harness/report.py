"""The harness's report: a Markdown summary of every mode's figures and its plots (hit@k,
latency, by script, risk against coverage)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import metrics as M


def fmt(v: float | None, pct: bool = True) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if pct else f"{v:.0f}"


def markdown_report(report: dict, title: str) -> str:
    lines = [f"# {title}", "", f"Index: `{report['meta']['index']}` · model `{report['meta']['model']}` · "
             f"chunk size {report['meta']['chunk_size']} · fusion {report['meta']['fusion']} · "
             f"{report['meta']['questions']} questions · reader `{report['meta'].get('reader', 'none')}` · "
             f"backend `{report['meta'].get('backend', '?')}`"
             + (f" (reader `{report['meta']['reader_backend']}`)" if report['meta'].get('reader_backend') else ""), ""]
    modes = list(report["modes"])
    lines += ["## Retrieval (document level, answerable questions)", "",
              "| mode | hit@1 | hit@3 | hit@5 | hit@10 | MRR@10 | nDCG@10 | recall@5 |", "|---|---|---|---|---|---|---|---|"]
    for m in modes:
        r = report["modes"][m]["retrieval"]
        lines.append(f"| {m} | {fmt(r['hit@1'])} | {fmt(r['hit@3'])} | {fmt(r['hit@5'])} | {fmt(r['hit@10'])} | "
                     f"{fmt(r['mrr@10'])} | {fmt(r['ndcg@10'])} | {fmt(r['recall@5'])} |")
    for m in modes:
        r = report["modes"][m]["retrieval"]
        if r.get("hit@1_reader_order") is not None:
            lines += ["", f"{m}: hit@1 {fmt(r['hit@1'])} in retrieval order, {fmt(r['hit@1_reader_order'])} with the "
                          "passages the reader read put in the order of its margin (measured, not applied)."]
    lines += ["", "## Answers, citations, abstention", "",
              "| mode | answer has gold | …when answered | mean length | citations verified | citation precision | "
              "unanswerable abstained | answerable abstained | p50 ms | p95 ms |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in modes:
        s = report["modes"][m]
        lines.append(f"| {m} | {fmt(s['answers']['contains_gold'])} | {fmt(s['answers']['contains_gold_when_answered'])} | "
                     f"{fmt(s['answers']['mean_length_chars'], False)} | {fmt(s['citations']['all_verified'])} | "
                     f"{fmt(s['citations']['precision'])} | {fmt(s['abstention']['unanswerable_abstained'])} | "
                     f"{fmt(s['abstention']['answerable_abstained'])} | {s['latency_ms']['p50']:.0f} | {s['latency_ms']['p95']:.0f} |")
    if any(report["modes"][m]["short_answers"]["given"] for m in modes):
        lines += ["", "## Short answers (answerable questions; no short answer counts 0)", "",
                  "| mode | given | EM | F1 | F1 when given |", "|---|---|---|---|---|"]
        for m in modes:
            sa = report["modes"][m]["short_answers"]
            lines.append(f"| {m} | {fmt(sa['given'])} | {fmt(sa['em'])} | {fmt(sa['f1'])} | {fmt(sa['f1_when_given'])} |")
    if "given_passage" in report:
        gp = report["given_passage"]
        lines += ["", f"Reader alone, given each question's own passage: {gp['questions']} questions, EM {fmt(gp['em'])}, "
                      f"F1 {fmt(gp['f1'])} (CMRC's character-level measures)."]
    if "gold_removed" in report:
        g = report["gold_removed"]
        lines += ["", "## Each question's own passage removed (hybrid)", "",
                  f"{g['questions']} answerable questions asked without their own passage: right {fmt(g['right'])} "
                  f"(abstained {fmt(g['abstained'])}; answered with a reference answer found in another passage "
                  f"{fmt(g['answered_with_a_reference_elsewhere'])}). Anything else is a confident, cited, wrong answer."]

    if "risk_coverage" in report:
        lines += ["", "## Risk and coverage (hybrid, abstention off; accuracy of the answered questions)", "",
                  "Each curve moves the answer step's threshold; the operating point is the shipped threshold "
                  "(the reader's was chosen on held-out training articles, never on this set).", "",
                  "| answer step | coverage 0.5 | 0.7 | 0.9 | all quotable | operating point: coverage / accuracy |",
                  "|---|---|---|---|---|---|"]
        for name, rc in report["risk_coverage"].items():
            pts = rc["points"]

            def at(c: float) -> str:
                got = [a for cov, a, _ in pts if cov >= c - 1e-9]
                return fmt(got[0]) if got else "–"

            op = rc["operating"]
            lines.append(f"| {name} | {at(0.5)} | {at(0.7)} | {at(0.9)} | {fmt(pts[-1][1]) if pts else '–'} "
                         f"(coverage {fmt(pts[-1][0]) if pts else '–'}) | {fmt(op['coverage'])} / {fmt(op['accuracy'])} |")
        lines += ["", "![risk-coverage](risk_coverage.png)"]

    def table(heading: str, key: str, cell: Callable[[dict], str], label: Callable[[str], str] = str) -> list[str]:
        cols = sorted({k for m in modes for k in report["modes"][m][key]})
        rows = ["", f"## {heading}", "", "| mode | " + " | ".join(label(c) for c in cols) + " |", "|---|" + "---|" * len(cols)]
        for m in modes:
            got = report["modes"][m][key]
            rows.append(f"| {m} | " + " | ".join(cell(got[c]) if c in got else "–" for c in cols) + " |")
        return rows

    hits = lambda r: f"{fmt(r['hit@1'])} / {fmt(r['hit@5'])} / {r['n']}"  # noqa: E731
    lines += table("By question script (hit@1 / hit@5 / n)", "by_script", hits)
    if len({d for m in modes for d in report["modes"][m]["by_document"]}) <= 30:
        lines += table("By document (hit@1 / hit@5 / n)", "by_document", hits, lambda d: d[:12])
    lines += table("Where a query's time goes (mean ms per stage)", "stage_ms_mean", lambda v: f"{v:.1f}")
    for m in modes:
        g = report["modes"][m].get("generation")
        if g:
            lines += ["", f"## Generated answers ({m})", "",
                      f"Model asked {g['asked']} times: its answer shown {fmt(g['generated_shown'])} of the time; "
                      f"{g['sentences_passed']} sentences passed the citation gate, {g['sentences_dropped']} dropped "
                      f"({', '.join(f'{k} {v}' for k, v in g['drop_reasons'].items()) or 'none'}); the model said "
                      f"'no evidence' {fmt(g['model_said_no_evidence'])}, failed {fmt(g['model_failed'])}; "
                      f"model time p50 {g['model_ms']['p50']:.0f} ms, p95 {g['model_ms']['p95']:.0f} ms."]
    if "abstention_calibration" in report:
        c = report["abstention_calibration"]
        lines += ["", f"Abstention thresholds that minimise wrong decisions on this set (hybrid): dense ≥ "
                      f"{c['min_dense_score']}, coverage ≥ {c['min_coverage']} ({c['errors']} errors in {c['questions']})."]
    lines += ["", "Every question's hits, answer and citations are in `report.json`."]
    return "\n".join(lines) + "\n"


def plots(report: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    modes = list(report["modes"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in modes:
        rs = [r for r in report["questions"][m] if r["answerable"]]
        ys = [M.mean(M.hit_at_k(r["ranked_docs"], r["gold_docs"], k) for r in rs) or 0 for k in range(1, 11)]
        ax.plot(range(1, 11), ys, marker="o", label=m)
    ax.set_xlabel("k"), ax.set_ylabel("hit@k"), ax.set_title("hit@k by retrieval mode"), ax.grid(alpha=.3), ax.legend()
    fig.tight_layout(), fig.savefig(out / "hit_at_k.png", dpi=110), plt.close(fig)
    names.append("hit_at_k.png")

    scripts = sorted({s for m in modes for s in report["modes"][m]["by_script"]})
    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / max(1, len(modes))
    for i, m in enumerate(modes):
        bs = report["modes"][m]["by_script"]
        ax.bar([j + i * width for j in range(len(scripts))], [bs.get(s, {}).get("hit@1") or 0 for s in scripts], width, label=m)
    ax.set_xticks([j + width * (len(modes) - 1) / 2 for j in range(len(scripts))], scripts)
    ax.set_ylabel("hit@1"), ax.set_title("hit@1 by question script"), ax.set_ylim(0, 1), ax.legend()
    fig.tight_layout(), fig.savefig(out / "by_script.png", dpi=110), plt.close(fig)
    names.append("by_script.png")

    if "risk_coverage" in report:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, rc in report["risk_coverage"].items():
            pts = rc["points"]
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
            op = rc["operating"]
            ax.plot([op["coverage"]], [op["accuracy"]], "o", color=line.get_color())
        ax.set_xlabel("share of questions answered"), ax.set_ylabel("accuracy of the answered")
        ax.set_title("risk-coverage (dot: shipped threshold)"), ax.set_xlim(0, 1), ax.grid(alpha=.3), ax.legend()
        fig.tight_layout(), fig.savefig(out / "risk_coverage.png", dpi=110), plt.close(fig)
        names.append("risk_coverage.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in modes:
        ax.hist([r["latency_ms"] for r in report["questions"][m]], bins=30, alpha=.5, label=m)
    ax.set_xlabel("ms per question"), ax.set_ylabel("questions"), ax.set_title("latency"), ax.legend()
    fig.tight_layout(), fig.savefig(out / "latency.png", dpi=110), plt.close(fig)
    names.append("latency.png")
    return names
