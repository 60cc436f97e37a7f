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
    out = rewrite_followup("阿里巴巴買了幾層樓？", "那騰訊呢？")
    assert out.startswith("騰訊") and "阿里巴巴買了幾層樓" in out
