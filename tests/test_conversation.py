from rag.conversation import is_followup, rewrite_followup


def test_followup_rewritten_with_previous_turn():
    prev = "河套香港園區有多少家機構落戶？"
    assert rewrite_followup(prev, "那深圳分園呢？") == "河套深圳分園有多少家機構落戶？"


def test_self_contained_question_unchanged():
    prev = "河套香港園區有多少家機構落戶？"
    q = "小紅書在香港的辦公室有多大？"
    assert not is_followup(q)
    assert rewrite_followup(prev, q) == q
    assert rewrite_followup("", "那深圳呢？") == "那深圳呢？"


def test_followup_without_overlap_is_prefixed():
    # The previous question names no year: the year is put in front, the rest kept.
    out = rewrite_followup("阿里巴巴買了幾層樓？", "那2024年呢？")
    assert out.startswith("2024年") and "阿里巴巴買了幾層樓" in out


# Follow-ups over the seeds: the new name replaces the one of the same kind (place for
# place, organisation for organisation, year for year); it is never just put in front.
FOLLOWUPS = [
    ("河套香港園區首期有多少家創科機構落戶？", "那深圳呢？", "河套深圳園區首期有多少家創科機構落戶？"),
    ("阿里巴巴和蚂蚁集团花了多少钱买下铜锣湾的写字楼？", "京東呢？", "京東花了多少钱买下铜锣湾的写字楼？"),
    ("阿里巴巴在铜锣湾买下了几层写字楼？", "那京东呢？", "京东在铜锣湾买下了几层写字楼？"),
    ("2023年香港創新科技行業的職位空缺率有多高？", "那2024年呢？", "2024年香港創新科技行業的職位空缺率有多高？"),
    ("小红书香港办公室大约有多大？", "字节跳动呢？", "字节跳动香港办公室大约有多大？"),
    ("香港科技园的园区里有多少家独角兽企业？", "数码港呢？", "数码港的园区里有多少家独角兽企业？"),
    ("前海深港青年梦工场2025年累计融资多少？", "2024年呢？", "前海深港青年梦工场2024年累计融资多少？"),
    ("华为云香港与哪所大学宣布深度合作？", "那阿里云呢？", "阿里云香港与哪所大学宣布深度合作？"),
    ("美团、小米和京东在铜锣湾的哪栋大楼落脚？", "那字节跳动呢？", "字节跳动在铜锣湾的哪栋大楼落脚？"),
    ("字節跳動後來把辦公室搬到了哪裏？", "小紅書呢？", "小紅書後來把辦公室搬到了哪裏？"),
    ("佰模雲的總部設在哪個城市？", "奔圖呢？", "奔圖的總部設在哪個城市？"),
    ("截至2024年第一季度，通过高才通获批来港的有多少人？", "那2023年呢？", "截至2023年第一季度，通过高才通获批来港的有多少人？"),
    ("2024年香港的研发人员总数是多少？", "2022年呢？", "2022年香港的研发人员总数是多少？"),
    ("香港的初创企业总数接近多少家？", "那深圳呢？", "深圳的初创企业总数接近多少家？"),
    ("香港服务业占GDP的比重有多高？", "新加坡呢？", "新加坡服务业占GDP的比重有多高？"),
    ("在香港的全國重點實驗室有多少所？", "那澳門呢？", "在澳門的全國重點實驗室有多少所？"),
    ("广东省政府与特区政府在哪一年签署《粤港合作框架协议》？", "那福建呢？", None),
    ("奔图的打印机累计下线超过多少台？", "那联想呢？", "联想的打印机累计下线超过多少台？"),
    ("腾讯在香港有多少名员工？", "那阿里巴巴呢？", "阿里巴巴在香港有多少名员工？"),
    ("阿里巴巴在铜锣湾买下了几层写字楼？", "那中环呢？", "阿里巴巴在中环买下了几层写字楼？"),
    ("小紅書在哪個月宣布在香港開設辦公室？", "那美團呢？", "美團在哪個月宣布在香港開設辦公室？"),
    ("河套香港園區有多少家機構落戶？", "那深圳分園呢？", "河套深圳分園有多少家機構落戶？"),
]


def test_followups_substitute_the_name_of_the_same_kind():
    wrong = []
    for previous, followup, expected in FOLLOWUPS:
        got = rewrite_followup(previous, followup)
        if expected is None:  # a kind the previous question does not name: put in front, kept whole
            ok = got.startswith("福建") and previous in got
        else:
            ok = got == expected
        if not ok:
            wrong.append((previous, followup, got))
    assert not wrong, wrong
    assert len(FOLLOWUPS) >= 20


def test_entities_by_kind_in_both_scripts():
    from rag.text.entities import find_entities

    got = [(e.text, e.kind) for e in find_entities("去年騰訊和阿里巴巴在中環與銅鑼灣買樓")]
    assert got == [("去年", "year"), ("騰訊", "org"), ("阿里巴巴", "org"), ("中環", "place"), ("銅鑼灣", "place")]
    # The longer name wins; an unknown company is found by its suffix.
    assert [(e.text, e.kind) for e in find_entities("佰模云三维科技有限公司入驻香港科技园")] == [
        ("佰模云三维科技有限公司", "org"), ("香港科技园", "org")]
