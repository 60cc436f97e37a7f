from rag.text.numbers import chinese_number, quantities, same_value


def _q(text):
    return [(q.value, q.kind) for q in quantities(text)]


def test_chinese_and_arabic_numerals():
    assert chinese_number("二十三") == 23 and chinese_number("两千五百") == 2500 and chinese_number("十") == 10
    assert chinese_number("1,200") == 1200 and chinese_number("5.02") == 5.02 and chinese_number("二〇二四") == 2024
    assert chinese_number("三点五") == 3.5 and chinese_number("abc") is None


def test_units_scales_and_kinds():
    assert _q("斥資66億元人民幣收購13層") == [(6.6e9, "money"), (13, "floors")]
    assert _q("获批5.02万人") == _q("获批50,200人") == [(50200, "people")]
    assert _q("六成来自内地") == _q("百分之六十") == [(60, "percent")]
    assert _q("2024年10月扩大到22所") == [(2024, "year"), (10, "month"), (22, "count")]
    assert _q("二〇二四年") == [(2024, "year")] and _q("连续三年") == [(3, "years")]
    assert _q("十三層") == [(13, "floors")] and _q("16万亿美元") == [(1.6e13, "money")]


def test_same_value_is_exact_for_years_and_loose_for_approximations():
    a, b = quantities("5.02萬人")[0], quantities("50,200人")[0]
    assert same_value(a, b)
    y1, y2 = quantities("2019年")[0], quantities("2022年")[0]
    assert not same_value(y1, y2)
    about = quantities("4万多")[0]
    assert same_value(about, quantities("45000")[0]) and not same_value(about, quantities("90000")[0])
    assert not same_value(quantities("88億")[0], quantities("66億")[0])
