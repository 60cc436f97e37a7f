"""The language of a sentence, and whether it tells its reader to do something: what the
claim check and the generation gate refuse before comparing meaning. Pure functions."""
from __future__ import annotations

import re

HAN = re.compile(r"[\u4e00-\u9fff]")  # a Han character
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def language_of(text: str) -> str:
    """"zh", "ja", "ko", "latin" (mostly Latin-script words) or "" (no letters)."""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    han = len(HAN.findall(text))
    latin = sum(len(w) for w in _LATIN_WORD.findall(text))
    if not han and not latin:
        return ""
    return "zh" if han * 2 >= latin else "latin"


# A sentence that asks its reader to do something: visit, click, log in, send, call, pay.
_IMPERATIVE = re.compile(
    r"(?:请|敬请|务必|立即|马上|赶快|赶紧|尽快)\s*(?:您\s*)?(?:访问|点击|点开|登录|登入|登陆|输入|提供|发送|回复|致电|拨打|联系|"
    r"扫描|扫码|转账|汇款|付款|支付|下载|安装|打开|前往|填写|提交|验证|确认)"
    r"|(?:输入|提供|发送|告知|填写)(?:您|你)?的?(?:密码|验证码|银行卡|账号|帐号|身份证|信用卡)"
    r"|https?://|www\.|(?:致电|拨打|联系电话|热线)\s*[:：]?\s*\+?\d"
    r"|\b(?:click|log ?in|sign in|visit|password|call us|contact us)\b", re.I)


def asks_reader_to_act(folded: str) -> bool:
    """True for a line that tells its reader to do something (visit a link, give a
    password, call a number): no sentence of an answer does."""
    return bool(_IMPERATIVE.search(folded))
