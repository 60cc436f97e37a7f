"""Every word the product shows people, in one place: the page's interface strings (written
in Traditional Chinese, Simplified derived with OpenCC), the answer's own sentences
(no evidence, not Chinese, why a generated answer is not shown) and the command line's
verdict labels. The CLI, the page and MCP word the library's records from here."""
from __future__ import annotations

from typing import Sequence

from ..text.fold import to_script

# Interface text, written in Traditional Chinese; Simplified is derived with OpenCC.
STRINGS = {
    "title": "香港創科新聞問答",
    "subtitle": "以新聞原文回答問題，每句答案都附出處，可點擊核對。",
    "ask": "提問",
    "placeholder": "輸入問題，例如：阿里巴巴在銅鑼灣買下了幾層寫字樓？",
    "sources": "出處",
    "no_sources": "提問後，這裏會列出答案引用的原文段落。",
    "related": "可能相關（並非答案的證據）",
    "searched": "追問改寫為",
    "edit_hint": "點擊可修改後再問",
    "context": "展開原文上下文",
    "lookup": "出處查詢",
    "lookup_hint": "貼上段落編號（如 000_0f407bbef8b93a09#3）、範圍（doc:120-180）或一句話，查看支持它的原文。",
    "lookup_button": "查詢",
    "settings": "設定",
    "mode": "檢索方式",
    "top_k": "來源數目",
    "script": "答案字體",
    "docs": "搜尋的文章（不選即全部）",
    "empty": "請先輸入問題。",
    "too_long": "問題太長了（{n} 字），請精簡到 {limit} 字以內。",
    "error": "無法處理這個問題：{msg}",
    "err_empty": "請先輸入問題。",
    "since": "由（日期，如 2024-01-01）",
    "until": "至（日期）",
    "outlets": "只看這些來源",
    "label_generated": "生成答案，已逐句核對原文",
    "label_quoted": "引自原文",
    "checking": "生成中，每句通過原文核對後才顯示…",
    "err_no_words": "問題裏沒有可以搜尋的字詞（只有標點或符號），請用中文寫出想問的事。",
    "err_not_utf8": "問題裏有無法辨認的字元（不是 UTF-8 文字），請重新輸入。",
    "err_unknown_document": "資料庫裏沒有這篇文章：{doc}",
    "section": "章節",
    "offsets": "位置",
    "score": "相關度",
    "no_support": "找不到支持這句話的段落。",
    "ui_lang": "介面文字",
    "examples": "試試這些問題",
    "related_flag": "相關文章摘錄（原網頁已截斷）",
    "clear": "清除對話",
    "related_hint": "<span class=\"hint-wide\">右側</span><span class=\"hint-narrow\">下方</span>「出處」列出了最接近的段落，僅供參考，並非答案的證據。",
    "failed": "抱歉，處理時出了問題，請再試一次；如果問題持續，請清除對話。",
    "bad_ref": "找不到這個出處：{msg}",
    "converted": "轉寫",
    "converted_title": "原文是另一種字體，這句轉寫成你的字體；「出處」顯示原文",
    "copy": "複製答案和出處",
    "verdict_supported": "✓ 有原文支持",
    "verdict_contradicted": "✗ 與原文不符",
    "verdict_partly_supported": "◐ 部分有原文支持（以下未見於原文）",
    "verdict_not_found": "？ 找不到相關原文（既無支持，也無反駁）",
    "not_in_archive": "原文沒有：",
    "nothing_of_kind": "（無此說）",
    "archive_says": "原文說 ",
    "claim_says": "，這句話說 ",
    "nearest": "最接近的段落（只供參考，並非證據）",
    "sources_plain": "出處",
    "no_date": "日期不詳",
    "no_outlet": "來源不詳",
    "references": "參考：",
    "untitled": "（無標題）",
    "related_header": "相關文章（摘錄）",
    "shown_on": "原網頁附於：",
}


def t(key: str, lang: str = "traditional", **kw: object) -> str:
    s = STRINGS[key].format(**kw) if kw else STRINGS[key]
    return to_script(s, "simplified") if lang == "simplified" else s


NO_EVIDENCE = {
    "simplified": "未能在语料中找到足够的证据回答这个问题。",
    "traditional": "未能在語料中找到足夠的證據回答這個問題。",
}


NOT_CHINESE = {
    "simplified": "这个系统以中文新闻原文回答中文问题；这个问题没有中文字，无法可靠地对应原文。请用中文提问。"
                  " (Please ask in Chinese: the answers quote Chinese news verbatim.)",
    "traditional": "這個系統以中文新聞原文回答中文問題；這個問題沒有中文字，無法可靠地對應原文。請用中文提問。"
                   " (Please ask in Chinese: the answers quote Chinese news verbatim.)",
}


def no_evidence_text(script: str, searched_titles: Sequence[str] = ()) -> str:
    """The honest no-answer, naming the articles searched when the search was limited to some."""
    trad = script == "traditional"
    if not searched_titles:
        return NO_EVIDENCE["traditional" if trad else "simplified"]
    names = "、".join(f"《{t}》" for t in searched_titles[:3])
    if len(searched_titles) > 3:
        names = (f"所選的 {len(searched_titles)} 篇文章" if trad else f"所选的 {len(searched_titles)} 篇文章")
    text = f"未能在{names}中找到足夠的證據回答這個問題。" if trad else f"未能在{names}中找到足够的证据回答这个问题。"
    return text


def other_year_notice(script: str, asked: str, found: str) -> str:
    """The archive dates the answer's figure with another year than the question asks about."""
    if script == "traditional":
        return f"原文沒有{asked}年的數字；以下引文是原文所載{found}年的數字，並非{asked}年。"
    return f"原文没有{asked}年的数字；以下引文是原文所载{found}年的数字，并非{asked}年。"


def not_chinese_text(script: str) -> str:
    return NOT_CHINESE["traditional" if script == "traditional" else "simplified"]


def fallback_notice(script: str, error: str, no_evidence: bool, dropped: int) -> str:
    """One line saying why a generated answer is not shown (the quoted one is)."""
    trad = script == "traditional"
    if error:
        line = (f"語言模型無法使用（{error}），以下是引自原文的答案。" if trad
                else f"语言模型无法使用（{error}），以下是引自原文的答案。")
    elif no_evidence:
        line = "語言模型認為資料不足以回答；以下是引自原文的答案。" if trad else "语言模型认为资料不足以回答；以下是引自原文的答案。"
    else:
        line = (f"生成的 {dropped} 句未能通過原文核對，已略去；以下是引自原文的答案。" if trad
                else f"生成的 {dropped} 句未能通过原文核对，已略去；以下是引自原文的答案。")
    return line


# The command line's verdict labels: English for scripts that grep, the page's words after.
VERDICT_LABELS = {"supported": "SUPPORTED 有原文支持", "contradicted": "CONTRADICTED 與原文不符",
                  "partly_supported": "PARTLY SUPPORTED 部分有原文支持", "not_found": "NOT FOUND 找不到相關原文"}


def page_text(page: int) -> str:
    """A citation's page in a paged source ("p. 3"), "" when the source has no pages."""
    return f"p. {page}" if page else ""


def format_text(doc) -> str:
    """What a document was read from, when not a text file: "PDF, 12 pages", "HTML", "DOCX"."""
    kind = doc.file_format
    if kind == "text":
        return ""
    if doc.page_count:
        return f"{kind.upper()}, {doc.page_count} pages"
    return kind.upper()


def answer_text(a) -> str:
    """The answer as shown: its quoted (or generated) sentences, or the words for why
    there is none (``Answer.reason``)."""
    if a.reason == "not_chinese":
        return not_chinese_text(a.script)
    if a.abstained:
        return no_evidence_text(a.script, a.searched_titles)
    return a.answer


def unanswered_notice(script: str, parts: Sequence[str]) -> str:
    """The parts of a question in several parts that no evidence was found for."""
    named = "、".join(f"「{p}」" for p in parts)
    if script == "traditional":
        return f"問題的這部分未能在語料中找到證據：{named}；以下只回答其餘部分。"
    return f"问题的这部分未能在语料中找到证据：{named}；以下只回答其余部分。"


def notice_text(a) -> str:
    """One line above the answer, or "": why a generated answer is not shown (the quoted
    one is), that the quoted figure is of another year than the one asked about, and which
    parts of a question in several parts found no evidence."""
    g = a.generation
    said = []
    if a.reason == "generation_fallback":
        said.append(fallback_notice(a.script, g.get("error", ""), bool(g.get("no_evidence")), int(g.get("dropped", 0))))
    elif a.other_year and not a.abstained:
        said.append(other_year_notice(a.script, *a.other_year))
    if a.unanswered_parts:
        said.append(unanswered_notice(a.script, a.unanswered_parts))
    return " ".join(said)


def filter_text(a) -> str:
    """The date and source filter the answer was limited to, in words ("" when none)."""
    from ..filters import describe

    return describe(a.filters, a.script) if a.filters else ""
