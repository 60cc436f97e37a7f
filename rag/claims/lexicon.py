"""The words the comparison of meaning knows: negations, verbs of opposite direction, light
words that assert nothing, synonym groups of general news language, and the part-of-speech
tags it reads. General Chinese news language only: no name, figure or phrase of any corpus."""
from __future__ import annotations

import re


# Negation and cancellation: a claim that says one of these where the evidence does not
# (or the reverse) says the opposite. Whole tokens: "不断", "未来" and "无人机" are not.
NEGATIONS = frozenset("""不 未 没 没有 无 非 并非 并未 并不 并没有 从未 尚未 未曾 未能 不再 绝非 毫无 不会 不能 无法 不是
否认 否定 取消 已取消 撤销 撤回 叫停 终止 暂停 放弃 拒绝 辟谣 不实 失实""".split())


NEGATION_PREFIX = re.compile(r"^(?:不|未|没|并未|并非|并不|从未|尚未|无法)(?=.)")


# Pairs of words whose meaning is reversed (general Chinese, not any corpus's).
DIRECTION_PAIRS = tuple(tuple(p.split("/")) for p in """
收购/出售 收购/出让 收购/卖出 买入/卖出 购入/出售 购入/卖出 买下/卖出 买下/出售 购买/出售 增持/减持
增加/减少 增长/下降 增长/减少 增长/下滑 增至/减至 增至/降至 增至/跌至 增幅/降幅 上升/下降 上升/下滑 升至/降至 升至/跌至
跃升/骤降 跃升/下降 跃升/下跌 跃升/锐减 激增/骤降 激增/锐减 暴增/暴跌 大增/大减 上涨/下跌 涨至/跌至 涨幅/跌幅
提高/降低 提升/降低 提升/下降 扩大/缩小 扩张/收缩 上调/下调 高于/低于 多于/少于 超过/低于 领先/落后
开设/关闭 开设/撤出 开设/结束 开业/关闭 开业/结业 设立/撤销 设立/关闭 设立/撤出 成立/解散 落户/撤出 落户/撤离
进驻/撤出 进驻/撤离 入驻/撤出 入驻/撤离 迁入/迁出 加入/退出 进入/退出 开放/关闭 启动/终止 启用/停用
入驻率/空置率 出租率/空置率 盈利/亏损 获利/亏损 赢利/亏损 顺差/逆差 净流入/净流出 流入/流出
招聘/裁员 扩招/裁员 聘请/解雇 批准/否决 批准/拒绝 通过/否决 支持/反对 同意/反对 赞成/反对 接受/拒绝
增/减 升/降 涨/跌 买/卖 赢/输 胜/负 多/少 高/低 新增/减少 最高/最低 最大/最小 最多/最少""".split())


# Words that change nothing a reader would check: copulas, reporting verbs, aspect and
# degree words, generic nouns. A claim may say them or leave them out.
LIGHT = frozenset("""是 为 有 可以 可 能 能够 共有 长达 后来 在 了 的 将 会 已 已经 曾 曾经 表示 称 说 指 指出 认为 透露 介绍 提到 强调 进行 作为 包括
其中 目前 当时 近期 最近 如今 现时 现在 共 共计 合共 总共 一共 累计 达 达到 高达 约 大约 等 等等 方面 情况 相关
有关 一个 这 该 此 其 正式 成功 相继 分别 陆续 均 都 也 还 更 再 又 就 便 即 并 而 且 及 与 和 同 以及 或 对 向 于
方面 来说 而言 之一 以来 期间 时 时候 当中 之中 其中 上 下 中 内 里 间 年间 一共 总数 数目 数量 规模 人数 个
已有 旗下 获 得 让 使 令 把 被 由 从 到 至 以 去 来 起 后 前 该 这个 那 那个 这些 那些 各 每 首 位 名 家 宗 项 成为 作出 做出
实现 完成 带来 获得 取得 录得 拥有 属于 位于 约有 多达 超 超过 逾 近 将近 接近 左右 以上 以下 计 总 总计 整体
发布 公布 宣布 宣告 披露 显示 指明 据 据悉 据了解 报道 消息 数据 资料 统计 报告 记者""".split())


# Synonym groups of general news language: a claim in other words says the same.
_SYNONYMS = [g.split("/") for g in """
收购/购入/买下/购买/买入/购得/并购/入股 出售/卖出/出让/转让/抛售 斥资/耗资/投资/花费/出资/动用/以 宣布/公布/宣告/发布/表示
开设/设立/成立/开办/开业/建立/设置/落户/进驻/入驻 办公室/办事处/办公地点/写字楼/办公空间 员工/雇员/职员/人员
增至/增加到/增长到/增加至/增长至/升至/提升至/扩大至/扩至 减至/减少到/降至/下降到/下降至/跌至 增长/上升/增加/提升/跃升/激增/上涨
下降/减少/下滑/降低/回落/下跌 企业/公司/机构/商户 约/大约/约为/左右/大概 超过/逾/超/多于/以上 吸引/引进/引入/吸纳
汇聚/聚集/集聚/云集/汇集 举行/举办/召开 获批/获得批准/批准 申请/申请人 位于/坐落/地处 拥有/有/设有 面积/空间/楼面
目前/现时/现在/如今 今年/本年 去年/上年/上一年 总数/总人数/总量/数目/人数 来自/源自 展开/开展/进行 协助/帮助/支援/支持
计划/拟/准备/打算 预计/预期/估计 首次/首度/第一次 启动/推出/开展 占/占比 达/达到/高达/录得 租用/租赁/承租/租下
商业写字楼/写字楼/办公楼/商厦 合作/协作 任职/就职/供职/工作 担任/出任/就任 死亡/丧生/罹难/死
仅有/只有/仅/只 下辖/辖下/管辖 发生/出现 造成/导致/酿成 主管/主管部门 比例/占比/比重 科技企业/科创企业/科技公司 业务/生意 研发/研究开发 人才/专才 推出/发布""".split()]

# One-character forms news gives the places it writes about most ("在港", "赴沪").
PLACE_SHORT = {"香港": "港", "上海": "沪", "北京": "京", "广州": "穗", "澳门": "澳", "深圳": "深", "台湾": "台"}
PLACE_SHORT_AFTER = "在来赴访抵驻留返离于"

SYNONYMS: dict[str, frozenset[str]] = {}


for _group in _SYNONYMS:
    for _w in _group:
        SYNONYMS[_w] = SYNONYMS.get(_w, frozenset()) | frozenset(_group)


CONTENT_TAGS = {"n", "nz", "nw", "v", "vn", "vd", "a", "an", "ad", "s", "TIME", "PER", "LOC", "ORG", "f", "d"}


NAME_TAGS = {"PER": "person", "LOC": "place", "ORG": "org"}


CODE = re.compile(r"(?<![a-z\d])(?:[a-z]+\d[a-z\d]*|\d+[a-z][a-z\d]*|\d+:\d+)(?![a-z\d])")


MEASURE = set("所个家名位座间项只条台部款栋层")


SUPERLATIVE = re.compile(r"最|首|唯一|第一|史上|有史以来|空前|创纪录|纪录")


NEGATION_WORDS = sorted((w for w in NEGATIONS if len(w) >= 2), key=len, reverse=True)


DIRECTION_SINGLE = frozenset(w for p in DIRECTION_PAIRS for w in p if len(w) == 1)
