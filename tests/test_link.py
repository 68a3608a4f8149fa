"""Fact linking on short Vietnamese examples: one test per resolution rule, null cases included."""

import pytest

import pipeline


@pytest.fixture(scope="module")
def rules_nlp():
    """The shipped model with its fact linker in rules mode: these tests pin the rule order, which the learned
    linker reads as features (tests/test_linker.py covers the learned choice)."""
    nlp = pipeline.load()
    nlp.get_pipe("vipie_fact_linker").mode = "rules"
    return nlp


def facts(rules_nlp, text, meta=None):
    doc = pipeline.process(rules_nlp, text, meta)
    return {f["metric"]["text"]: f for f in doc._.facts}


def test_value_unit_qualifier_and_status(rules_nlp):
    fact = facts(rules_nlp, "Năm 2020, tỉnh Lào Cai đã đạt 35%-40% trở lên hồ sơ trực tuyến.")["35%-40%"]
    assert (fact["value"], fact["value_max"], fact["unit"], fact["qualifier"]) == (35, 40, "%", "gte")
    assert fact["status"] == "achieved"


def test_province_and_year_from_the_sentence(rules_nlp):
    fact = facts(rules_nlp, "Trong năm 2020, tỉnh Quảng Ninh có trên 888.000 văn bản điện tử.")["trên 888.000"]
    assert (fact["province"], fact["year"], fact["evidence"]) == ("Quảng Ninh", 2020, {"province": "sentence", "year": "sentence"})
    assert fact["indicator"] == "văn bản điện tử"
    assert fact["province_2025"] == "Quảng Ninh"


def test_province_from_an_agency_naming_it(rules_nlp):
    fact = facts(rules_nlp, "UBND tỉnh Yên Bái đã cấp 500 tài khoản.")["500"]
    assert (fact["province"], fact["province_2025"], fact["evidence"]["province"]) == ("Yên Bái", "Lào Cai", "agency")


def test_province_from_the_paragraph(rules_nlp):
    text = "Tỉnh Nghệ An đẩy mạnh chuyển đổi số. Hệ thống đã tiếp nhận 1.200 hồ sơ."
    fact = facts(rules_nlp, text)["1.200"]
    assert (fact["province"], fact["evidence"]["province"]) == ("Nghệ An", "paragraph")


def test_province_from_the_title(rules_nlp):
    text = "Chuyển đổi số mạnh mẽ tại tỉnh Bến Tre năm nay\nHệ thống đã tiếp nhận 1.200 hồ sơ."
    fact = facts(rules_nlp, text)["1.200"]
    assert (fact["province"], fact["evidence"]["province"]) == ("Bến Tre", "title")


def test_province_from_metadata(rules_nlp):
    fact = facts(rules_nlp, "Hệ thống đã tiếp nhận 1.200 hồ sơ.", {"province": "Gia Lai"})["1.200"]
    assert (fact["province"], fact["evidence"]["province"]) == ("Gia Lai", "meta")


def test_no_province_anywhere_stays_null(rules_nlp):
    fact = facts(rules_nlp, "Hệ thống đã tiếp nhận 1.200 hồ sơ.")["1.200"]
    assert (fact["province"], fact["province_2025"], fact["evidence"]["province"]) == (None, None, None)
    assert (fact["year"], fact["evidence"]["year"]) == (None, None)


def test_national_figure(rules_nlp):
    fact = facts(rules_nlp, "Hiện cả nước có 4.500 dịch vụ công trực tuyến.", {"province": "Gia Lai"})["4.500"]
    assert (fact["province"], fact["province_2025"]) == ("Việt Nam", "Việt Nam")


def test_comparison_with_another_province(rules_nlp):
    text = "Tỉnh ta đạt 80% hồ sơ trực tuyến, trong khi tỉnh Quảng Ninh đạt 95%."
    found = facts(rules_nlp, text, {"province": "Bắc Giang"})
    assert found["80%"]["province"] == "Bắc Giang"
    assert found["95%"]["province"] == "Quảng Ninh"


def test_own_province_marker_beats_another_province_in_the_paragraph(rules_nlp):
    text = "Tỉnh Quảng Ninh dẫn đầu cả nước. Trên địa bàn tỉnh, 70% hồ sơ được xử lý trực tuyến."
    fact = facts(rules_nlp, text, {"province": "Hải Dương"})["70%"]
    assert (fact["province"], fact["evidence"]["province"]) == ("Hải Dương", "meta")


def test_paragraph_year_governs_later_sentences(rules_nlp):
    text = "Năm 2022, tỉnh Lào Cai đẩy mạnh chuyển đổi số. Toàn tỉnh có 96 cán bộ chuyên trách. Hệ thống có 1.664 dịch vụ."
    found = facts(rules_nlp, text)
    assert [found[m]["year"] for m in ("96", "1.664")] == [2022, 2022]
    assert found["96"]["evidence"]["year"] == "paragraph"


def test_publication_year_for_den_nay(rules_nlp):
    found = facts(rules_nlp, "Đến nay, 100% cán bộ được trang bị máy tính.", {"published": "2021-03-12"})
    assert (found["100%"]["year"], found["100%"]["evidence"]["year"]) == (2021, "published")


def test_no_publication_year_leaves_den_nay_null(rules_nlp):
    assert facts(rules_nlp, "Đến nay, 100% cán bộ được trang bị máy tính.")["100%"]["year"] is None


def test_dateline_sets_published_in_meta(rules_nlp):
    doc = pipeline.process(rules_nlp, "Tin học hóa công tác quản lý nhà nước\n15:30, 12/03/2021\nĐến nay, 100% cán bộ có máy tính.")
    assert doc._.meta["published"] == "2021-03-12"
    assert doc._.facts[0]["year"] == 2021


def test_baseline_year_is_not_the_figures_year(rules_nlp):
    fact = facts(rules_nlp, "Tỷ lệ hồ sơ trực tuyến tăng 20% so với năm 2021.")["20%"]
    assert fact["year"] is None


@pytest.mark.parametrize(
    "text, status",
    [("Tỉnh phấn đấu đến năm 2025 đạt 80% hồ sơ trực tuyến.", "target"),
     ("Trong thời gian tới, 100% máy chủ phải được giám sát.", "target"),
     ("Tỉnh đã đạt 65% hồ sơ trực tuyến.", "achieved"),
     ("Tỷ lệ 65% hồ sơ trực tuyến.", "achieved"),
     ("Nếu tiếp tục, tỉnh có thể đạt 65% hồ sơ trực tuyến.", None),
     ("Tỉnh đặt mục tiêu 100% văn bản được ký số; tối thiểu 20% hồ sơ được xử lý trực tuyến.", "target"),
     ("Kế hoạch đặt ra tỷ lệ phải đạt 40%, hiện nay mới đạt 29,6%.", "achieved"),
     ("Năm 2024, thành phố Cần Thơ tiếp nhận trên 462.000 hồ sơ.", "achieved"),
     ("Năm 2020, tỷ lệ của tỉnh chỉ đạt 11,6% và nhiều thủ tục vẫn phải nộp bản giấy.", "achieved")],
)
def test_status(rules_nlp, text, status):
    fact = list(facts(rules_nlp, text).values())[-1]
    assert fact["status"] == status


def test_every_metric_has_exactly_one_fact(seed_docs):
    for doc in seed_docs:
        metrics = sorted((e.start_char, e.end_char) for e in doc.ents if e.label_ == "METRIC")
        assert sorted((f["metric"]["start"], f["metric"]["end"]) for f in doc._.facts) == metrics


def test_evidence_spans_point_at_what_decided(rules_nlp):
    text = "Trong năm 2020, tỉnh Quảng Ninh có trên 888.000 văn bản điện tử."
    fact = facts(rules_nlp, text)["trên 888.000"]
    province, year = fact["province_span"], fact["year_span"]
    assert (text[province["start"] : province["end"]], text[year["start"] : year["end"]]) == ("tỉnh Quảng Ninh", "năm 2020")
    meta_only = facts(rules_nlp, "Hệ thống đã tiếp nhận 1.200 hồ sơ.", {"province": "Gia Lai"})["1.200"]
    assert (meta_only["province_span"], meta_only["year_span"]) == (None, None)


def test_only_province_named_in_the_text_is_the_documents_own(rules_nlp):
    text = ("Đồng chí Trịnh Xuân Trường chủ trì cuộc họp.\nVề chính quyền số: 100% mạng LAN cơ quan cấp tỉnh được đầu tư.\n"
            "Kế hoạch chuyển đổi số tỉnh Lào Cai năm 2022 đặt ra 68 mục tiêu.")
    fact = facts(rules_nlp, text)["100%"]
    assert (fact["province"], fact["evidence"]["province"]) == ("Lào Cai", "document")


def test_two_provinces_in_the_text_do_not_make_a_document_province(rules_nlp):
    text = "Về chính quyền số: 100% mạng LAN được đầu tư.\nTỉnh Lào Cai và tỉnh Yên Bái ký kết hợp tác."
    assert facts(rules_nlp, text)["100%"]["province"] is None


def test_sentence_opening_with_a_year_frames_the_rest_of_the_paragraph(rules_nlp):
    text = ("Tại cuộc họp, Sở đã báo cáo kết quả. Năm 2021, các mục tiêu đã hoàn thành. Về chính quyền số: 100% mạng LAN "
            "cơ quan cấp tỉnh được đầu tư.")
    fact = facts(rules_nlp, text)["100%"]
    assert (fact["year"], fact["evidence"]["year"]) == (2021, "paragraph")


def test_a_plan_period_gives_way_to_a_nearer_date(rules_nlp):
    text = "Sau gần 2 năm (2021 - 2022) triển khai Đề án giai đoạn 2021-2025, tỉnh đã đạt khoảng 50% hạng mục."
    assert facts(rules_nlp, text)["khoảng 50%"]["year"] == 2022


def test_cả_nước_as_a_comparison_frame_keeps_the_province(rules_nlp):
    text = "Năm 2020, tỷ lệ hồ sơ trực tuyến toàn tỉnh ước đạt dưới 5%, thấp hơn mức bình quân 8% của cả nước."
    found = facts(rules_nlp, text, {"province": "Sơn La"})
    assert (found["dưới 5%"]["province"], found["8%"]["province"]) == ("Sơn La", "Việt Nam")


def test_a_comparison_province_does_not_leak_to_the_paragraph(rules_nlp):
    text = ("Tỉnh tiếp nhận 145.870 hồ sơ, trong khi tỷ lệ này của tỉnh Thái Bình là 61,5%. "
            "Hệ thống đã kết nối 42 dịch vụ.")
    found = facts(rules_nlp, text, {"province": "Hưng Yên"})
    assert [found[m]["province"] for m in ("145.870", "61,5%", "42")] == ["Hưng Yên", "Thái Bình", "Hưng Yên"]


def test_counts_of_provinces_and_national_bodies_are_national(rules_nlp):
    found = facts(rules_nlp, "Bộ Thông tin và Truyền thông cho biết đến nay 63/63 tỉnh, thành phố đã kết nối; "
                       "Cổng Dịch vụ công quốc gia có 2.785 dịch vụ.")
    assert (found["63/63"]["province"], found["2.785"]["province"]) == ("Việt Nam", "Việt Nam")
