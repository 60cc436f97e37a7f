"""Names in questions and claims, by kind: places, organisations (companies,
universities, agencies), years. Used to swap the subject of a follow-up ("那深圳呢？"
replaces the place of the previous question, "京東呢？" its company) and to tell a
claim about another company from a claim the archive supports.

A gazetteer of the names Hong Kong and mainland business news uses, in both scripts,
plus suffix patterns for the organisations it does not list ("…科技有限公司",
"…大學"). Pure functions; nothing here reads the corpus.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

PLACES = """
香港 九龙 新界 港岛 香港岛 铜锣湾 中环 金钟 湾仔 尖沙咀 旺角 观塘 九龙湾 沙田 大埔 荃湾 屯门 元朗 天水围 将军澳
西九龙 西九 启德 北部都会区 落马洲 河套 东涌 大屿山 长沙湾 葵涌 鲗鱼涌 上环 西环 太古
深圳 前海 南山 福田 罗湖 广州 南沙 珠海 横琴 东莞 佛山 惠州 中山 江门 肇庆 澳门 大湾区 粤港澳大湾区 广东
北京 上海 天津 重庆 杭州 南京 苏州 武汉 成都 西安 长沙 厦门 福州 青岛 济南 合肥 郑州 沈阳 大连 哈尔滨 昆明
海南 海口 三亚 台湾 台北 内地 中国 全国
新加坡 日本 东京 韩国 首尔 美国 纽约 硅谷 旧金山 英国 伦敦 德国 法国 巴黎 欧洲 中东 沙特 迪拜 阿联酋 印度
印尼 马来西亚 泰国 越南 澳洲 澳大利亚 加拿大 东南亚 亚洲 全球
"""

ORGANISATIONS = """
阿里巴巴 阿里 蚂蚁集团 蚂蚁 支付宝 腾讯 京东 美团 小米 小红书 字节跳动 字节 抖音 百度 华为 华为云 拼多多 网易 快手
商汤 商汤科技 大疆 比亚迪 宁德时代 科大讯飞 联想 中兴 哔哩哔哩 携程 滴滴 蔚来 小鹏 理想
苹果 微软 谷歌 亚马逊 英伟达 特斯拉 三星 索尼 英特尔 高通 IBM Meta OpenAI
汇丰 中银香港 恒生银行 渣打 港交所 港铁 国泰航空 长和 新鸿基 新世界 太古集团 怡和 电讯盈科 香港电讯
香港科技园 科技园 科技园公司 科学园 香港科学园 数码港 香港生产力促进局 生产力局 投资推广署 创新科技署 创新科技局 创科局 劳福局
劳工及福利局 人才服务窗口 香港人才服务办公室 金管局 证监会 保监局 立法会 特区政府 港府 中央政府 国务院
香港大学 港大 香港中文大学 中大 香港科技大学 科大 香港理工大学 理大 香港城市大学 城大 香港浸会大学 浸大
岭南大学 香港教育大学 都会大学 清华大学 北京大学 浙江大学 复旦大学
波士顿咨询 麦肯锡 普华永道 德勤 安永 毕马威 世界知识产权组织 瑞士洛桑国际管理发展学院
"""

# Organisations the list does not know: a run of Han characters ending in one of these.
_ORG_SUFFIX = re.compile(r"[^\W\d_a-zA-Z和与與及、的在是了为為把被向从從对對将將由於于或多少几幾哪什麼么些這这那每各其该該首旗下家个個名间間]{2,8}?(?:有限公司|公司|集团|集團|银行|銀行|"
                         r"大学|大學|学院|學院|研究院|实验室|實驗室|基金会|基金會|控股|协会|協會|商会|商會|委员会|委員會|管理局)")
_INTRO = re.compile(r"年|月|日|成立|设立|設立|组建|組建|成为|成為|推出|发布|發布|宣布|收购|收購|加入|入驻|入駐|落户|落戶")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?=\s*年|(?!\d))|今年|去年|明年|前年")
_LATIN = re.compile(r"(?<![A-Za-z])[A-Z][A-Za-z0-9&.\-]{1,30}(?:\s[A-Z][A-Za-z0-9&.\-]{1,30}){0,3}")


# Places that stand for a whole city, region or country (the others are districts or
# sites): "那深圳呢？" after "河套香港園區…" swaps 香港, not 河套.
BROAD_PLACES = set("""香港 深圳 广州 珠海 东莞 佛山 惠州 中山 江门 肇庆 澳门 大湾区 粤港澳大湾区 广东 北京 上海 天津 重庆 杭州
南京 苏州 武汉 成都 西安 长沙 厦门 福州 青岛 济南 合肥 郑州 沈阳 大连 哈尔滨 昆明 海南 台湾 内地 中国 新加坡 日本
韩国 美国 英国 德国 法国 欧洲 中东 沙特 阿联酋 印度 印尼 马来西亚 泰国 越南 澳洲 澳大利亚 加拿大 东南亚""".split())


# Regions too general to pin a subject down: "內地大廠在港招聘" is not a question about
# somewhere other than Hong Kong. They are still names (a follow-up may swap them).
GENERIC_PLACES = set("内地 中国 全国 全球 亚洲 欧洲 东南亚 中东 大湾区 粤港澳大湾区".split())
# Short forms news uses for the same organisation (Simplified).
ALIASES = {"劳福局": "劳工及福利局", "创科局": "创新科技局", "生产力局": "香港生产力促进局", "港大": "香港大学",
           "中大": "香港中文大学", "科大": "香港科技大学", "理大": "香港理工大学", "城大": "香港城市大学",
           "浸大": "香港浸会大学", "阿里": "阿里巴巴", "字节": "字节跳动", "科技园": "香港科技园"}


def canonical(name: str) -> str:
    """The full name of a short form ("劳福局" -> "劳工及福利局"), folded to Simplified."""
    f = _fold(name)
    return ALIASES.get(f, f)


@dataclass(frozen=True)
class Entity:
    text: str
    kind: str  # "place" | "org" | "year" | "person" (the claim check types people)
    start: int
    end: int

    @property
    def broad(self) -> bool:
        """A city, region or country (not a district or site)."""
        return self.kind == "place" and _fold(self.text) in BROAD_PLACES


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, str]:
    """Every gazetteer name in Simplified, Traditional and Hong Kong Traditional."""
    from .fold import _converter

    out: dict[str, str] = {}
    for kind, words in (("place", PLACES), ("org", ORGANISATIONS)):
        for w in words.split():
            for form in {w, _converter("s2t").convert(w), _converter("s2hk").convert(w), _converter("s2tw").convert(w)}:
                out.setdefault(form, kind)
    return out


@lru_cache(maxsize=1)
def _lexicon_pattern() -> re.Pattern:
    names = sorted(_lexicon(), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names)))


def find_entities(text: str) -> list[Entity]:
    """Places, organisations and years in ``text``, left to right, not overlapping;
    a longer name wins over a shorter one inside it ("香港科技园" over "香港")."""
    lex = _lexicon()
    found: list[Entity] = []
    for m in _ORG_SUFFIX.finditer(text):
        # "…年成立创新科技委员会": the name starts after the verb that introduces it.
        cut = max((v.end() for v in _INTRO.finditer(m.group())), default=0)
        if len(m.group()) - cut >= 3:
            found.append(Entity(m.group()[cut:], "org", m.start() + cut, m.end()))
    for m in _lexicon_pattern().finditer(text):
        found.append(Entity(m.group(), lex[m.group()], m.start(), m.end()))
    for m in _YEAR.finditer(text):
        found.append(Entity(m.group(), "year", m.start(), m.end()))
    for m in _LATIN.finditer(text):
        found.append(Entity(m.group(), "org", m.start(), m.end()))
    # Longest first, then leftmost; drop anything overlapping a kept one.
    found.sort(key=lambda e: (-(e.end - e.start), e.start))
    kept: list[Entity] = []
    for e in found:
        if all(e.end <= k.start or e.start >= k.end for k in kept):
            kept.append(e)
    kept.sort(key=lambda e: e.start)
    # "深圳科技园" is Shenzhen's park, not 科技园 (Hong Kong's, by its short form) in 深圳.
    out: list[Entity] = []
    for e in kept:
        p = out[-1] if out else None
        if p is not None and p.kind == "place" and p.end == e.start and e.kind == "org" and _fold(e.text) in _PARKS:
            out[-1] = Entity(p.text + e.text, "org", p.start, e.end)
        else:
            out.append(e)
    return out


# Names of a kind of site that every city has; 科技园 alone means Hong Kong's (``ALIASES``).
_PARKS = {"科技园", "科学园"}


def _fold(name: str) -> str:
    """``name`` folded to Simplified (the folder is imported on first use, as elsewhere in this module)."""
    from .fold import fold

    return fold(name)
