import pytest

from pipeline.numbers import parse_metric, parse_number_words, parse_numeral


@pytest.mark.parametrize(
    "text, following, value, value_max, unit, qualifier",
    [
        ("trên 888.000", "", 888000, None, None, "gt"),
        ("70,6%", "", 70.6, None, "%", None),
        ("5/6", "", 5 / 6, None, None, None),
        ("3.412/3.650", "", 3412 / 3650, None, None, None),
        ("81,36/100 điểm", "", 81.36, None, "điểm", None),
        ("8,65/9,50", "", 8.65, None, None, None),
        ("chưa tới 10%", "", 10, None, "%", "lt"),
        ("≥ 90%", "", 90, None, "%", "gte"),
        ("gần gấp ba lần", "", 3, None, "lần", "approx"),
        ("35%-40%", " trở lên", 35, 40, "%", "gte"),
        ("60% đến dưới 75%", "", 60, 75, "%", None),  # guidelines v2: the bracket's "dưới" is no qualifier
        ("35 đến 40%", "", 35, 40, "%", None),
        ("thứ 13/63", "", 13, None, "rank", None),
        ("thứ hai", "", 2, None, "rank", None),
        ("1 bậc", "", 1, None, "bậc", None),
        ("1,5 tỷ đồng", "", 1.5, None, "tỷ đồng", None),
        ("300 triệu đồng", "", 300, None, "triệu đồng", None),
        ("2 triệu", "", 2_000_000, None, None, None),
        ("01", "", 1, None, None, None),
        ("gần 380.000", "", 380000, None, None, "approx"),
        ("khoảng 50%", "", 50, None, "%", "approx"),
        ("xấp xỉ 12", "", 12, None, None, "approx"),
        ("ít nhất 01", "", 1, None, None, "gte"),
        ("tối thiểu 90%", "", 90, None, "%", "gte"),
        ("tối đa 5", "", 5, None, None, "lte"),
        ("dưới 10%", "", 10, None, "%", "lt"),
        ("hơn 520", "", 520, None, None, "gt"),
        ("70 phần trăm", "", 70, None, "%", None),
        ("99,5 điểm", "", 99.5, None, "điểm", None),
        ("1.234,5", "", 1234.5, None, None, None),
        # guidelines v2: rate units stay in the span and the unit, ranks written "vị trí", points of a percentage
        ("khoảng 14,8 thuê bao/100 dân", "", 14.8, None, "thuê bao/100 dân", "approx"),
        ("20%-25%/năm", "", 20, 25, "%/năm", None),
        ("5.000 đến 8.000 đồng/kg", "", 5000, 8000, "đồng/kg", None),
        ("5 triệu đồng/người/tháng", "", 5, None, "triệu đồng/người/tháng", None),
        ("khoảng 1/4", "", 0.25, None, None, "approx"),
        ("vị trí 33/63", "", 33, None, "rank", None),
        ("vị trí số một", "", 1, None, "rank", None),
        ("2,16 điểm phần trăm", "", 2.16, None, "điểm phần trăm", None),
        ("khoảng 420 TB", "", 420, None, "TB", "approx"),
        # units of length, area, mass and money in dollars, also after a range
        ("500-700 m", "", 500, 700, "m", None),
        ("300-400 kg", "", 300, 400, "kg", None),
        ("gần 40 cây số", "", 40, None, "km", "approx"),
        ("hơn 9.360 km²", "", 9360, None, "km²", "gt"),
        ("chừng 200 m²", "", 200, None, "m²", "approx"),
        ("khoảng 20,5 tỷ USD", "", 20.5, None, "tỷ USD", "approx"),
        ("2,4 PB", "", 2.4, None, "PB", None),
    ],
)
def test_parse_metric_formats(text, following, value, value_max, unit, qualifier):
    parsed = parse_metric(text, following)
    assert parsed.value == pytest.approx(value)
    assert parsed.value_max == (pytest.approx(value_max) if value_max is not None else None)
    assert (parsed.unit, parsed.qualifier) == (unit, qualifier)


@pytest.mark.parametrize(
    "text, value",
    [("888.000", 888000), ("1.664", 1664), ("70,6", 70.6), ("1,500", 1.5), ("87.5", 87.5), ("1.234.567", 1234567),
     ("007", 7), ("abc", None), ("1.2.3", None), ("", None)],
)
def test_parse_numeral_vietnamese_conventions(text, value):
    assert parse_numeral(text) == value


@pytest.mark.parametrize("text, value", [("hai", 2), ("mười hai", 12), ("ba mươi lăm", 35), ("hai nghìn", 2000),
                                          ("một trăm linh năm", 105), ("văn bản", None)])
def test_parse_number_words(text, value):
    assert parse_number_words(text) == value


def test_unreadable_number_keeps_value_null():
    assert parse_metric("thứ mấy").value is None
