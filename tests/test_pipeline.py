"""The answer pipeline's pure parts: the question's year against the answer's."""
from rag.pipeline.years import asked_year, other_year, year_of_answer


def test_the_year_asked_and_the_year_of_the_answer():
    assert asked_year("2025年香港研发人员总数是多少？") == "2025"
    assert asked_year("2023年和2024年各有多少？") is None and asked_year("香港有多少家？") is None
    assert asked_year("电话20245678是谁的？") is None
    before = "根据2025年底发布的《2024年香港创新活动统计》，2024年香港研发人员总数"
    assert year_of_answer(before) == "2024" and year_of_answer("香港研发人员总数") is None
    assert other_year("2025年香港研发人员总数是多少？", before) == ("2025", "2024")
    assert other_year("2024年香港研发人员总数是多少？", before) is None
    assert other_year("香港研发人员总数是多少？", before) is None
    # The year inside the answer counts: "由2023年的…增至2028年的9.64万人" is dated 2028.
    assert other_year("2028年的需求预计增至多少？", "需求预计将由2023年的6.02万人增至2028年的9.64万人") is None
