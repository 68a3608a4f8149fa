"""The learned linker: candidates for each guidelines-v2 case, training and reloading, bad model files."""

import json
import shutil

import pytest

from pipeline.errors import ModelError
from pipeline.facts.candidates import (DocumentView, figure_view, innermost_open_brackets, province_candidates,
                                       year_candidates)
from pipeline.facts.indicator import (
    choose_indicator,
    list_item_previous,
    sentence_tokens,
    tagged_span,
    trim_edges,
    usable_indicator,
)
from pipeline.facts.learned import INDICATOR_FILE, LINKER_FILE, LearnedLinker, train_linker
from pipeline.facts.link import EntitySpan, FactLinker, Resolved
from pipeline.labels import NATIONAL
from pipeline.provinces import default_resolver
from pipeline.train import layout_contexts


def document(text: str, spans: list[tuple[str, str]], meta: dict | None = None, facts: list[dict] | None = None) -> dict:
    """A gold-like document: each (label, fragment) is found after the previous one."""
    entities, cursor = [], 0
    for label, fragment in spans:
        start = text.index(fragment, cursor)
        entities.append({"start": start, "end": start + len(fragment), "label": label, "text": fragment})
        cursor = start + len(fragment)
    return {"id": "t", "text": text, "meta": meta or {}, "entities": entities, "facts": facts or []}


def candidates_of(text, spans, figure, meta=None):
    """(province candidates, year candidates) of the METRIC `figure`, with the rule linker's choice as input."""
    gold, context = layout_contexts([document(text, spans, meta)])[0]
    entities = [EntitySpan(e["start"], e["end"], e["label"], e["text"]) for e in gold["entities"]]
    linker = FactLinker(default_resolver())
    view = DocumentView(text, entities, context, linker)
    metric = next(e for e in entities if e.label == "METRIC" and e.text == figure)
    fig = figure_view(view, metric)
    return province_candidates(view, fig, Resolved()), year_candidates(view, fig, Resolved())


def by_value(candidates, value, kind=None):
    return [c for c in candidates if c.value == value and (kind is None or c.kind == kind)]


def test_candidates_always_include_null_and_the_publication_year_when_known():
    provinces, years = candidates_of("Tỉnh đã cấp 500 tài khoản.", [("METRIC", "500")], "500", {"published": "2024-05-01"})
    assert [c.kind for c in provinces] == ["null"]  # no national evidence: no national candidate
    assert {(c.kind, c.value) for c in years} == {("published", 2024), ("null", None)}
    _, years = candidates_of("Tỉnh đã cấp 500 tài khoản.", [("METRIC", "500")], "500")
    assert [c.kind for c in years] == ["null"]


def test_national_needs_national_evidence_and_a_provincial_report_is_not_national():
    provinces, _ = candidates_of("Cả nước đã cấp 500 tài khoản.", [("METRIC", "500")], "500")
    assert [c.kind for c in provinces] == ["national", "null"]
    text = "Bộ Nội vụ ghi nhận kết quả.\nCổng Dịch vụ công của tỉnh có 500 tài khoản."
    provinces, _ = candidates_of(text, [("AGENCY", "Bộ Nội vụ"), ("METRIC", "500")], "500")
    assert [c.kind for c in provinces] == ["null"]


def test_a_national_word_inside_a_systems_name_is_not_national_evidence():
    text = "Cổng Dịch vụ công của tỉnh đã kết nối với Cổng Dịch vụ công quốc gia, cung cấp 41 dịch vụ công."
    spans = [("SYSTEM", "Cổng Dịch vụ công"), ("SYSTEM", "Cổng Dịch vụ công quốc gia"), ("METRIC", "41")]
    provinces, _ = candidates_of(text, spans, "41")
    assert [c.kind for c in provinces] == ["null"]
    text = "Cả nước có 63 tỉnh kết nối với Cổng Dịch vụ công quốc gia, cung cấp 41 dịch vụ công."
    spans = [("SYSTEM", "Cổng Dịch vụ công quốc gia"), ("METRIC", "41")]
    provinces, _ = candidates_of(text, spans, "41")  # the marker outside the name still counts
    assert "national_marker:clause" in by_value(provinces, NATIONAL)[0].features


ORDER_CASES = [
    # a year opens the sequence: each figure takes the year before it
    ("Năm 2021 tỷ lệ đạt 9,6%, năm 2022 lên 27,4% và năm 2023 đạt 46,8%.",
     [("DATE", "Năm 2021"), ("METRIC", "9,6%"), ("DATE", "năm 2022"), ("METRIC", "27,4%"), ("DATE", "năm 2023"),
      ("METRIC", "46,8%")],
     "27,4%", {2022: "order=date_first&side=before", 2023: "order=date_first&side=after"}),
    # a figure opens it and a year closes it: each figure takes the year after it
    ("Tỷ lệ tăng từ 45% năm 2019 lên gần 90% năm 2023.",
     [("METRIC", "45%"), ("DATE", "năm 2019"), ("METRIC", "gần 90%"), ("DATE", "năm 2023")],
     "gần 90%", {2023: "order=figure_first&side=after", 2019: "order=figure_first&side=before"}),
    # a figure opens it and a figure closes it
    ("Tỉnh có 120 tổ, tăng 30 tổ so với năm 2022 và đạt 95%.",
     [("METRIC", "120"), ("METRIC", "30 tổ"), ("DATE", "năm 2022"), ("METRIC", "95%")],
     "120", {2022: "order=mixed&side=after"}),
]


@pytest.mark.parametrize("text, spans, figure, expected", ORDER_CASES)
def test_year_candidates_know_whether_the_sentence_puts_its_years_before_or_after_their_figures(
        text, spans, figure, expected):
    _, years = candidates_of(text, spans, figure)
    for year, feature in expected.items():
        assert feature in by_value(years, year)[0].features


def test_a_far_year_frames_a_figure_only_as_a_frame_or_the_articles_period():
    text = ("Chuyển đổi số tại địa phương\nTỉnh triển khai kế hoạch giai đoạn 2022-2025 về chính quyền số.\n"
            "Các sở đã kết nối hệ thống.\nTỉnh có 500 tài khoản thư điện tử.")
    _, years = candidates_of(text, [("DATE", "giai đoạn 2022-2025"), ("METRIC", "500")], "500")
    assert [c.kind for c in years] == ["null"]  # a plan period two paragraphs away frames nothing
    text = ("Chuyển đổi số tại địa phương\nNăm 2023 tỉnh đạt nhiều kết quả.\nCác sở đã kết nối hệ thống.\n"
            "Tỉnh có 500 tài khoản thư điện tử.")
    _, years = candidates_of(text, [("DATE", "Năm 2023"), ("METRIC", "500")], "500")
    assert {c.value for c in years} == {2023, None}


def test_rank_belongs_to_the_ranked_province():
    provinces, _ = candidates_of("Năm 2023, Yên Bái xếp thứ 44/63 tỉnh, thành phố.",
                                 [("DATE", "Năm 2023"), ("LOCATION", "Yên Bái"), ("METRIC", "thứ 44/63")], "thứ 44/63")
    ranked = by_value(provinces, "Yên Bái", "mention")[0]
    assert {"near_subject", "region=clause", "side=before"} <= set(ranked.features)
    assert "kind=mention&fig:rank_cue" in ranked.features


def test_list_items_belong_to_the_name_they_follow():
    text = "Tỷ lệ hồ sơ trực tuyến cao nhất là Bình Phước (71,2%), Tây Ninh (58,4%)."
    spans = [("LOCATION", "Bình Phước"), ("METRIC", "71,2%"), ("LOCATION", "Tây Ninh"), ("METRIC", "58,4%")]
    provinces, _ = candidates_of(text, spans, "58,4%")
    assert "list_item_of" in by_value(provinces, "Tây Ninh")[0].features
    assert "list_item_of" not in by_value(provinces, "Bình Phước")[0].features
    assert "between:figures=1" in by_value(provinces, "Bình Phước")[0].features


def test_a_province_mention_carries_its_part_in_a_2025_merger():
    text = ("Từ ngày 1/7/2025, tỉnh Quảng Ngãi (mới) hoạt động trên cơ sở hợp nhất tỉnh Quảng Ngãi và tỉnh Kon Tum, "
            "với 96 xã. Các xã thuộc địa bàn Kon Tum (cũ) còn 9 xã chưa có cáp quang.")
    spans = [("LOCATION", "tỉnh Quảng Ngãi"), ("LOCATION", "tỉnh Quảng Ngãi"), ("LOCATION", "tỉnh Kon Tum"),
             ("METRIC", "96"), ("LOCATION", "Kon Tum"), ("METRIC", "9")]
    provinces, _ = candidates_of(text, spans, "96")
    merged, merging = sorted(by_value(provinces, "Quảng Ngãi", "mention"), key=lambda c: c.span)
    assert {"merger=merged", "merger=merged:clause"} <= set(merged.features)
    assert "merger=merging" in merging.features
    kon_tum_in_merger, kon_tum_former = sorted(by_value(provinces, "Kon Tum", "mention"), key=lambda c: c.span)
    assert "merger=merging" in kon_tum_in_merger.features
    assert {"merger=former", "merger=former:paragraph"} <= set(kon_tum_former.features)
    provinces, _ = candidates_of(text, spans, "9")
    assert "merger=former:clause" in by_value(provinces, "Kon Tum", "mention")[1].features


def test_no_merger_cue_in_a_piece_that_tells_of_no_merger():
    text = "Tỉnh Quảng Ngãi mới đạt 45% hồ sơ trực tuyến, thấp hơn Kon Tum cũng như Gia Lai."
    spans = [("LOCATION", "Tỉnh Quảng Ngãi"), ("METRIC", "45%"), ("LOCATION", "Kon Tum"), ("LOCATION", "Gia Lai")]
    provinces, _ = candidates_of(text, spans, "45%")
    assert not [key for c in provinces for key in c.features if key.startswith("merger") or key == "post_merger"]


def test_a_ministrys_own_figure_and_a_count_of_provinces_are_national_cues():
    provinces, _ = candidates_of("Bộ Tài chính đạt 96,3% hồ sơ trực tuyến.", [("AGENCY", "Bộ Tài chính"), ("METRIC", "96,3%")],
                                 "96,3%")
    assert "national_body:clause" in by_value(provinces, NATIONAL)[0].features
    provinces, _ = candidates_of("Đến nay 63/63 tỉnh, thành phố đã kết nối.", [("METRIC", "63/63")], "63/63")
    assert "province_count" in by_value(provinces, NATIONAL)[0].features


def test_an_average_over_provinces_and_a_national_document_are_national_cues_even_beside_an_own_province():
    text = "Tiền Giang tăng 11 bậc\nGiá trị trung bình DTI cấp tỉnh là 0,4660 điểm; tỉnh đạt 0,4731 điểm."
    spans = [("LOCATION", "Tiền Giang"), ("METRIC", "0,4660 điểm"), ("METRIC", "0,4731 điểm")]
    provinces, _ = candidates_of(text, spans, "0,4660 điểm")
    assert "aggregate:clause" in by_value(provinces, NATIONAL)[0].features
    assert by_value(provinces, "Tiền Giang", "own")  # the own province stays a candidate beside it
    provinces, _ = candidates_of(text, spans, "0,4731 điểm")
    assert "aggregate:sentence" in by_value(provinces, NATIONAL)[0].features
    text = "Bộ Thông tin và Truyền thông cho biết cả nước có gần 80.000 tổ.\nCác tổ đã hướng dẫn 14,5 triệu lượt người."
    spans = [("AGENCY", "Bộ Thông tin và Truyền thông"), ("METRIC", "gần 80.000"), ("METRIC", "14,5 triệu")]
    provinces, _ = candidates_of(text, spans, "14,5 triệu")  # no cue in its sentence, but the article is national
    assert set(by_value(provinces, NATIONAL)[0].features) >= {"national_document", "no_own_province"}


def test_a_figure_shared_by_several_provinces_tells_the_null_candidate():
    text = "Hà Nam, Ninh Bình, Thái Bình đạt trên 0,5 điểm."
    spans = [("LOCATION", "Hà Nam"), ("LOCATION", "Ninh Bình"), ("LOCATION", "Thái Bình"), ("METRIC", "trên 0,5 điểm")]
    provinces, _ = candidates_of(text, spans, "trên 0,5 điểm")
    assert "named_in_sentence=3" in by_value(provinces, None, "null")[0].features


def test_own_province_from_the_title_with_a_self_reference():
    text = "Lào Cai đẩy mạnh chuyển đổi số\nToàn tỉnh có 120 tổ công nghệ số cộng đồng."
    provinces, _ = candidates_of(text, [("LOCATION", "Lào Cai"), ("METRIC", "120")], "120")
    own = by_value(provinces, "Lào Cai", "own")[0]
    assert {"own_source=title", "self_marker"} <= set(own.features)


def test_change_from_a_to_b_gives_each_figure_its_own_year():
    text = "Tỷ lệ hồ sơ trực tuyến tăng từ 45% năm 2019 lên gần 90% năm 2023."
    spans = [("METRIC", "45%"), ("DATE", "năm 2019"), ("METRIC", "gần 90%"), ("DATE", "năm 2023")]
    _, years = candidates_of(text, spans, "45%")
    assert "right_after_figure" in by_value(years, 2019)[0].features
    assert "right_after_figure" not in by_value(years, 2023)[0].features
    _, years = candidates_of(text, spans, "gần 90%")
    assert "right_after_figure" in by_value(years, 2023)[0].features
    assert {"between:len", "side=before"} <= set(by_value(years, 2019)[0].features)


def test_a_baseline_year_is_marked():
    text = "So với năm 2022, chỉ số tăng 0,05 điểm."
    _, years = candidates_of(text, [("DATE", "năm 2022"), ("METRIC", "0,05 điểm")], "0,05 điểm")
    assert {"baseline", "lead=so_voi"} <= set(by_value(years, 2022)[0].features)


def test_a_figure_in_brackets_right_after_a_date_is_marked_as_that_dates():
    text = "Chỉ số năm 2024 tăng 7 bậc so với năm 2016 (thứ 25/63), so với năm 2020 là thứ 20/63."
    spans = [("DATE", "năm 2024"), ("METRIC", "7 bậc"), ("DATE", "năm 2016"), ("METRIC", "thứ 25/63"),
             ("DATE", "năm 2020"), ("METRIC", "thứ 20/63")]
    _, years = candidates_of(text, spans, "thứ 25/63")
    assert "figure_in_bracket_after" in by_value(years, 2016)[0].features
    assert "figure_in_bracket_after" not in by_value(years, 2024)[0].features
    for figure in ("7 bậc", "thứ 20/63"):
        _, years = candidates_of(text, spans, figure)
        assert not any("figure_in_bracket_after" in c.features for c in years)


def test_a_review_title_and_its_next_years_tasks_are_told_apart():
    text = "Kết quả công tác cải cách hành chính năm 2018 và nhiệm vụ năm 2019\nTổng số hồ sơ tiếp nhận là 74.185 hồ sơ."
    _, years = candidates_of(text, [("DATE", "năm 2018"), ("DATE", "năm 2019"), ("METRIC", "74.185")], "74.185")
    assert {"lead=review", "lead=review&fig=result"} <= set(by_value(years, 2018)[0].features)
    assert "lead=plan" in by_value(years, 2019)[0].features and "lead=review" not in by_value(years, 2019)[0].features
    # the tasks of a year that a review reports on are no plan
    text = "Báo cáo kết quả thực hiện nhiệm vụ năm 2022: tỉnh cấp 1.200 chữ ký số."
    _, years = candidates_of(text, [("DATE", "năm 2022"), ("METRIC", "1.200")], "1.200")
    assert "lead=review" in by_value(years, 2022)[0].features and "lead=plan" not in by_value(years, 2022)[0].features


def test_a_year_a_target_follows_frames_the_targets_after_it():
    text = "Năm 2020, tỉnh đặt mục tiêu tích hợp ít nhất 30% dịch vụ; 100% hồ sơ được số hóa."
    _, years = candidates_of(text, [("DATE", "Năm 2020"), ("METRIC", "ít nhất 30%"), ("METRIC", "100%")], "100%")
    assert {"follow=target", "follow=target&fig=target"} <= set(by_value(years, 2020)[0].features)
    # a target after a clause break belongs to another clause
    text = "Năm 2019, tỉnh cấp 1.200 chữ ký số; mục tiêu là 2.000."
    _, years = candidates_of(text, [("DATE", "Năm 2019"), ("METRIC", "1.200"), ("METRIC", "2.000")], "1.200")
    assert "follow=target" not in by_value(years, 2019)[0].features


def test_an_interviewers_question_names_the_answers_period():
    text = "PV: Thưa ông, kế hoạch năm 2020 của tỉnh ra sao?\nÔng Lượng: Đưa tỷ lệ dịch vụ lên ít nhất 50%."
    _, years = candidates_of(text, [("DATE", "năm 2020"), ("METRIC", "ít nhất 50%")], "ít nhất 50%")
    assert any(key.startswith("question&region=") for key in by_value(years, 2020)[0].features)
    text = "Năm 2020, tỉnh có 50 dịch vụ. Tỉnh có bao nhiêu dịch vụ?"
    _, years = candidates_of(text, [("DATE", "Năm 2020"), ("METRIC", "50")], "50")
    assert not any(key.startswith("question") for key in by_value(years, 2020)[0].features)


def test_a_heading_frames_the_list_below_it():
    text = "Báo cáo của tỉnh\nKết quả năm 2021:\n- Tỷ lệ hồ sơ trực tuyến: 45%\n- Số tài khoản: 1.200"
    _, years = candidates_of(text, [("DATE", "năm 2021"), ("METRIC", "45%"), ("METRIC", "1.200")], "1.200")
    heading = by_value(years, 2021)[0]
    assert "heading_lead" in heading.features
    assert any(key.startswith("region=paragraph-") for key in heading.features)


def test_a_dated_total_frames_its_breakdown():
    text = "Năm 2022, tỉnh cấp 2.140 tài khoản, trong đó 1.870 tài khoản đã kích hoạt."
    _, years = candidates_of(text, [("DATE", "Năm 2022"), ("METRIC", "2.140"), ("METRIC", "1.870")], "1.870")
    total = by_value(years, 2022)[0]
    assert {"opens_sentence", "between:trong_do", "between:figures=1"} <= set(total.features)


def test_the_titles_year_and_the_publication_year_for_current_figures():
    text = "Tuyên Quang: kết quả chuyển đổi số năm 2023\nTới nay, tỉnh có 120 tổ công nghệ số."
    _, years = candidates_of(text, [("LOCATION", "Tuyên Quang"), ("DATE", "năm 2023"), ("METRIC", "120")], "120",
                             {"published": "2024-01-10"})
    title = by_value(years, 2023)[0]
    assert {"title_year", "region=title"} <= set(title.features)
    assert "current:clause" in by_value(years, 2024, "published")[0].features


def test_a_plan_period_and_a_target_year_are_marked():
    text = "Giai đoạn 2021-2025, tỉnh phấn đấu đến năm 2025 đạt 80% hồ sơ trực tuyến."
    spans = [("DATE", "Giai đoạn 2021-2025"), ("DATE", "năm 2025"), ("METRIC", "80%")]
    _, years = candidates_of(text, spans, "80%")
    period, target = by_value(years, 2025)
    assert "period" in period.features and "lead=den" in target.features
    assert "kind=mention&fig:target_cue" in target.features


def test_a_table_header_gives_each_column_its_year():
    text = ("Một số chỉ tiêu của tỉnh\nChỉ tiêu | Năm 2021 | Năm 2023\n"
            "Hồ sơ trực tuyến | 12,4% | 58,6%\nVăn bản ký số | 71% | 97,3%")
    spans = [("DATE", "Năm 2021"), ("DATE", "Năm 2023"), ("METRIC", "12,4%"), ("METRIC", "58,6%"),
             ("METRIC", "71%"), ("METRIC", "97,3%")]
    _, years = candidates_of(text, spans, "97,3%")
    assert "table:header_same_column" in by_value(years, 2023)[0].features
    assert "table:header_other_column" in by_value(years, 2021)[0].features
    text = "Chỉ tiêu năm 2022 | Mục tiêu\nVăn bản ký số | 100%\nHộ gia đình có cáp quang | 75%"
    _, years = candidates_of(text, [("DATE", "năm 2022"), ("METRIC", "100%"), ("METRIC", "75%")], "75%")
    assert "table:header_first_column" in by_value(years, 2022)[0].features


def test_brackets_a_current_marker_and_a_publication_date_are_marked():
    text = "Năm 2026, tỉnh đặt mục tiêu kinh tế số chiếm 15% GRDP (năm 2025 ước đạt 11,2%)."
    spans = [("DATE", "Năm 2026"), ("METRIC", "15%"), ("DATE", "năm 2025"), ("METRIC", "11,2%")]
    _, years = candidates_of(text, spans, "15%")
    assert "bracket:mention_inside" in by_value(years, 2025)[0].features
    _, years = candidates_of(text, spans, "11,2%")
    assert "bracket:figure_inside" in by_value(years, 2026)[0].features
    assert "bracket:same" in by_value(years, 2025)[0].features
    text = "Đầu năm 2020, toàn tỉnh còn 134 thôn chưa có sóng, tới nay con số này còn 61 thôn."
    _, years = candidates_of(text, [("DATE", "năm 2020"), ("METRIC", "134"), ("METRIC", "61")], "61")
    assert "between:current" in by_value(years, 2020)[0].features
    # "thực hiện" (carry out) is no current marker; "hiện" alone ("currently") is
    text = "Năm 2020, tỉnh thực hiện Đề án và cấp 61 tài khoản. Hiện, tỉnh có 90 tài khoản."
    spans = [("DATE", "Năm 2020"), ("DOCUMENT", "Đề án"), ("METRIC", "61"), ("METRIC", "90")]
    _, years = candidates_of(text, spans, "61")
    assert "between:current" not in by_value(years, 2020)[0].features
    _, years = candidates_of(text, spans, "90")
    assert "between:current" in by_value(years, 2020)[0].features
    text = "Theo DTI năm 2025 do Bộ công bố tháng 6/2026, tỉnh xếp thứ 14/34."
    _, years = candidates_of(text, [("DATE", "năm 2025"), ("DATE", "tháng 6/2026"), ("METRIC", "thứ 14/34")], "thứ 14/34")
    assert "issued" in by_value(years, 2026)[0].features and "issued" not in by_value(years, 2025)[0].features


def test_the_ranker_compares_candidates_within_a_figure():
    from pipeline.facts.candidates import Candidate
    from pipeline.facts.ranker import CandidateRanker

    def figure(right_cue: str, gold):
        # The frequent cue is on the wrong candidate of every figure; only the rare cue marks the right one.
        return ([Candidate(gold, "mention", None, {right_cue: 1.0}),
                 Candidate("other", "mention", None, {"frequent": 1.0})], gold)

    groups = [figure("rare", i) for i in range(20)]
    ranker = CandidateRanker.train(groups, c=1.0)
    chosen, probability = ranker.choose(groups[0][0])
    assert chosen.value == 0 and 0.5 < probability < 1.0
    assert ranker.weights["rare"] > 0 > ranker.weights["frequent"]
    assert CandidateRanker.from_dict(ranker.to_dict(), "test").choose(groups[0][0]) == (chosen, probability)


GOLD_DOCS = [
    document("Năm 2022, tỉnh Lào Cai cấp 2.140 tài khoản thư điện tử.",
             [("DATE", "Năm 2022"), ("LOCATION", "tỉnh Lào Cai"), ("METRIC", "2.140")],
             facts=[{"metric": {"start": 27, "end": 32}, "province": "Lào Cai", "year": 2022,
                     "indicator_span": {"start": 33, "end": 55}}]),
    document("Bộ Tài chính đạt 96,3% hồ sơ trực tuyến năm 2021.",
             [("AGENCY", "Bộ Tài chính"), ("METRIC", "96,3%"), ("DATE", "năm 2021")],
             facts=[{"metric": {"start": 17, "end": 22}, "province": NATIONAL, "year": 2021,
                     "indicator_span": {"start": 23, "end": 39}}]),
    document("Hiện nay, Cà Mau có 300 tổ công nghệ số.", [("LOCATION", "Cà Mau"), ("METRIC", "300")],
             {"published": "2023-06-01"},
             facts=[{"metric": {"start": 20, "end": 23}, "province": "Cà Mau", "year": 2023,
                     "indicator_span": {"start": 24, "end": 39}}]),
    document("Tỉnh có 12 xã đạt chuẩn.", [("METRIC", "12")],
             facts=[{"metric": {"start": 8, "end": 10}, "province": None, "year": None, "indicator_span": None}]),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("linker")
    linker = FactLinker(default_resolver())
    learned = train_linker(layout_contexts(GOLD_DOCS), linker, folder)
    return folder, linker, learned


# Trains the linker on GOLD_DOCS and a sentence whose words cross several INDICATOR_STOPS on the way to the
# figure, into the folder given; run under different PYTHONHASHSEED values.
TRAIN_IN_A_PROCESS = """import sys
from pathlib import Path
from pipeline.facts.learned import train_linker
from pipeline.facts.link import FactLinker
from pipeline.provinces import default_resolver
from pipeline.train import layout_contexts
from tests.test_linker import GOLD_DOCS, document
crossing = document("Tỷ lệ hồ sơ được xử lý đúng hạn trên Cổng đã đạt 97% và còn 3% chưa hoàn thành.",
                    [("METRIC", "97%"), ("METRIC", "3%")],
                    facts=[{"metric": {"start": 49, "end": 52}, "province": None, "year": None,
                            "indicator_span": {"start": 0, "end": 31}},
                           {"metric": {"start": 60, "end": 62}, "province": None, "year": None,
                            "indicator_span": None}])
train_linker(layout_contexts(GOLD_DOCS + [crossing]), FactLinker(default_resolver()), Path(sys.argv[1]))
"""


@pytest.mark.slow
def test_training_the_linker_writes_the_same_files_whatever_the_hash_seed(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    written = []
    for seed in ("1", "2", "3"):
        folder = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        subprocess.run([sys.executable, "-c", TRAIN_IN_A_PROCESS, str(folder)], check=True, env=env, cwd=REPO,
                       timeout=300)
        written.append(((folder / INDICATOR_FILE).read_bytes(), (folder / LINKER_FILE).read_bytes()))
    assert written[0] == written[1] == written[2]


def refined(learned, linker):
    out = []
    for gold, context in layout_contexts(GOLD_DOCS):
        entities = [EntitySpan(e["start"], e["end"], e["label"], e["text"]) for e in gold["entities"]]
        out.append(learned.refine(linker, gold["text"], entities, context, linker.link_facts(gold["text"], entities, context)))
    return out


def spans_of(text: str, fragments: list[str]) -> list[tuple[int, int]]:
    return [(text.index(f), text.index(f) + len(f)) for f in fragments]


def test_an_indicator_is_never_names_alone_nor_a_linking_verb_alone():
    text = "Hà Nội (0,7790), Sở Tư pháp xếp thứ hai; chỉ số giảm 6 bậc."
    figures = spans_of(text, ["0,7790", "thứ hai", "6 bậc"])
    names = spans_of(text, ["Hà Nội", "Sở Tư pháp"])
    assert not usable_indicator(text, spans_of(text, ["Hà Nội"])[0], figures, names)
    assert not usable_indicator(text, spans_of(text, ["Sở Tư pháp"])[0], figures, names)
    assert not usable_indicator(text, spans_of(text, ["xếp"])[0], figures, names)
    assert usable_indicator(text, spans_of(text, ["giảm"])[0], figures, names)  # a change's direction is one
    assert usable_indicator(text, spans_of(text, ["chỉ số giảm"])[0], figures, names)


def test_an_indicator_is_never_a_former_provinces_marker_nor_a_qualifier_alone():
    text = "Tuyên Quang (cũ) đạt 99,2%; tốc độ 30 Mbps trở lên; 5 người trở lên."
    figures = spans_of(text, ["99,2%", "30 Mbps", "5"])
    names = spans_of(text, ["Tuyên Quang"])
    assert not usable_indicator(text, spans_of(text, ["cũ"])[0], figures, names)
    assert not usable_indicator(text, spans_of(text, ["trở lên"])[0], figures, names)
    assert usable_indicator(text, spans_of(text, ["người trở lên"])[0], figures, names)


def test_an_indicator_is_trimmed_of_opening_words_and_cut_at_another_clause():
    text = "Tỉnh có 946 hồ sơ nhưng mới có 20 hồ sơ trực tuyến, xếp thứ 10 về DTI."
    figure, second, rank = spans_of(text, ["946", "20", "thứ 10"])
    assert text[slice(*trim_edges(text, figure[1], second[0], figure))] == "hồ sơ"  # after its figure: the near side
    assert text[slice(*trim_edges(text, figure[1], second[0], second))] == "mới có"  # before its figure: the near side
    assert text[slice(*trim_edges(text, rank[1], len(text), rank))] == "DTI"
    # a span that holds none of the words keeps its words
    assert text[slice(*trim_edges(text, *spans_of(text, ["hồ sơ trực tuyến"])[0], second))] == "hồ sơ trực tuyến"


def test_a_tagged_name_gives_way_to_the_next_tagged_span():
    text = "Nhóm dẫn đầu có tỷ lệ ký số cao: Hà Nội 98%."
    tokens = sentence_tokens(text, (0, len(text)), spans_of(text, ["98%"])[0])
    words = [text[s:e] for s, e in tokens]
    tags = ["O"] * len(tokens)
    tags[words.index("tỷ")], tags[words.index("lệ")] = "B", "I"
    tags[words.index("Hà")], tags[words.index("Nội")] = "B", "I"
    figures, names = spans_of(text, ["98%"]), spans_of(text, ["Hà Nội"])
    assert tagged_span(tokens, tags, text, figures[0], figures) == spans_of(text, ["Hà Nội"])[0]
    assert tagged_span(tokens, tags, text, figures[0], figures, names) == spans_of(text, ["tỷ lệ"])[0]


def test_later_items_of_a_list_share_the_first_items_indicator():
    text = ("Năm 2024, thành phố Cần Thơ (cũ) có tỷ lệ hồ sơ trực tuyến toàn trình 58,4%, "
            "tỉnh Hậu Giang (cũ) 63,7% và tỉnh Sóc Trăng (cũ) 49,2%; 12 xã đạt 90%.")
    figures = spans_of(text, ["58,4%", "63,7%", "49,2%", "12", "90%"])
    names = spans_of(text, ["Năm 2024", "thành phố Cần Thơ", "tỉnh Hậu Giang", "tỉnh Sóc Trăng"])
    assert list_item_previous(text, figures[1], 0, figures, names) == figures[0]
    assert list_item_previous(text, figures[2], 0, figures, names) == figures[1]
    assert list_item_previous(text, figures[3], 0, figures, names) is None  # "12 xã" names no one
    assert list_item_previous(text, figures[0], 0, figures, names) is None
    indicator = spans_of(text, ["tỷ lệ hồ sơ trực tuyến toàn trình"])[0]
    tokens = sentence_tokens(text, (0, len(text)), figures[1])
    nothing = ["O"] * len(tokens)
    assert choose_indicator(text, figures[1], tokens, nothing, None, figures, names, {figures[0]: indicator}) == indicator
    # with no indicator for the first item, the list item is an ordinary figure: the rule span stands in
    rule = spans_of(text, ["hồ sơ trực tuyến"])[0]
    assert choose_indicator(text, figures[1], tokens, nothing, rule, figures, names, {figures[0]: None}) == rule


def test_gold_doc_offsets_are_what_the_facts_say():
    for doc in GOLD_DOCS:
        for fact in doc["facts"]:
            metric = next(e for e in doc["entities"] if e["label"] == "METRIC")
            assert (fact["metric"]["start"], fact["metric"]["end"]) == (metric["start"], metric["end"])


def test_trained_linker_fits_its_training_facts_and_reloads_to_the_same_predictions(trained):
    folder, linker, learned = trained
    before = refined(learned, linker)
    assert [(f["province"], f["year"]) for facts in before for f in facts] == \
        [("Lào Cai", 2022), (NATIONAL, 2021), ("Cà Mau", 2023), (None, None)]
    assert all(0.0 < f["score"] <= 1.0 for facts in before for f in facts)
    assert refined(LearnedLinker.load(folder), linker) == before


def test_a_missing_linker_file_is_a_clear_error(trained, tmp_path):
    folder = tmp_path / "linker"
    shutil.copytree(trained[0], folder)
    (folder / LINKER_FILE).unlink()
    with pytest.raises(ModelError, match="no linker.json; the model's learned linker is missing"):
        LearnedLinker.load(folder)


def test_a_corrupt_indicator_model_is_refused_before_it_is_read(trained, tmp_path):
    folder = tmp_path / "linker"
    shutil.copytree(trained[0], folder)
    data = bytearray((folder / INDICATOR_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / INDICATOR_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum differs"):
        LearnedLinker.load(folder)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": "other"}),
                                     json.dumps({"format": "vipie-linker/1", "province": {"weights": {"a": "x"}}})])
def test_a_corrupt_linker_file_is_a_clear_error(trained, tmp_path, content):
    folder = tmp_path / "linker"
    shutil.copytree(trained[0], folder)
    data = json.loads((folder / LINKER_FILE).read_text(encoding="utf-8"))
    if "province" in content:
        content = json.dumps({**data, "province": {"weights": {"a": "x"}, "intercept": 0}})
    (folder / LINKER_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match="rebuild it with `vipie train`"):
        LearnedLinker.load(folder)


@pytest.mark.slow
def test_vipie_train_ships_the_learned_linker_in_the_model_folder(tmp_path):
    import pipeline
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.cli import train as _train  # noqa: F401  (registers `vipie train`)

    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in GOLD_DOCS * 3), encoding="utf-8")
    model = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--train", str(gold), "--dev", str(gold), "--out", str(model),
                                      "--max-iterations", "20"])
    assert result.exit_code == 0, result.output
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    assert card["metrics"]["linker"]["mode"] == "learned" and card["metrics"]["linker"]["train_facts"] == 12
    nlp = pipeline.load(model)
    assert nlp.get_pipe("vipie_fact_linker").mode == "learned"
    fact = pipeline.process(nlp, "Năm 2022, tỉnh Lào Cai cấp 2.140 tài khoản thư điện tử.")._.facts[0]
    assert (fact["province"], fact["year"]) == ("Lào Cai", 2022)
    assert fact["indicator_span"] is not None and 0 < fact["score"] <= 1

    (model / "vipie_fact_linker" / LINKER_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(ModelError, match="linker.json: its checksum differs from card.json"):
        pipeline.load(model)


@pytest.mark.parametrize("text", ["", "abc", "(a (b) c) d", "x (y\nz) w", "a) (b (c", "((", "(x)(y)\n(z"])
def test_innermost_open_bracket_of_every_position_as_read_character_by_character(text):
    expected, opened = [], []
    for char in text:
        expected.append(opened[-1] if opened else -1)
        if char == "(":
            opened.append(len(expected) - 1)
        elif char == ")" and opened:
            opened.pop()
        elif char == "\n":
            opened.clear()
    expected.append(opened[-1] if opened else -1)
    assert innermost_open_brackets(text) == expected


@pytest.mark.parametrize("text, spans, figure, national", [
    # guidelines v2: a ministry's own figure, the country's average beside a province's, a count of provinces
    ("Ở khối bộ, ngành, Bộ Tài chính dẫn đầu với 96,3%.", [("AGENCY", "Bộ Tài chính"), ("METRIC", "96,3%")], "96,3%", True),
    ("Bảo hiểm xã hội Việt Nam đạt 100% hồ sơ trực tuyến.", [("AGENCY", "Bảo hiểm xã hội Việt Nam"), ("METRIC", "100%")],
     "100%", True),
    ("Bạc Liêu đạt 27,5% và mức trung bình của cả nước là khoảng 22%.",
     [("LOCATION", "Bạc Liêu"), ("METRIC", "27,5%"), ("METRIC", "khoảng 22%")], "khoảng 22%", True),
    ("Bạc Liêu đạt 27,5% và mức trung bình của cả nước là khoảng 22%.",
     [("LOCATION", "Bạc Liêu"), ("METRIC", "27,5%"), ("METRIC", "khoảng 22%")], "27,5%", False),
    # a rank's "cả nước" belongs to the ranked province, and so does what its sentence goes on to count
    ("Bắc Ninh đứng thứ hai cả nước; 1.152 dịch vụ được cung cấp.",
     [("LOCATION", "Bắc Ninh"), ("METRIC", "thứ hai"), ("METRIC", "1.152")], "1.152", False),
    ("Tỉnh là một trong những địa phương đầu tiên của cả nước cấp sổ cho 1,1 triệu người.",
     [("METRIC", "1,1 triệu")], "1,1 triệu", False),
    ("Bộ phận một cửa xã Tân Trung tiếp nhận 1.028 hồ sơ của cả nước.",
     [("AGENCY", "Bộ phận một cửa xã Tân Trung"), ("METRIC", "1.028")], "1.028", False),
])
def test_a_national_subject_is_the_country_or_a_ministry_leading_to_the_figure_with_nothing_local(
        text, spans, figure, national):
    provinces, _ = candidates_of(text, spans, figure)
    national_candidates = by_value(provinces, NATIONAL)
    assert bool(national_candidates and "national_subject" in national_candidates[0].features) == national


def test_a_count_of_provinces_and_a_rank_among_them_are_told_apart():
    provinces, _ = candidates_of("Yên Bái xếp thứ 44/63 tỉnh, thành phố.", [("LOCATION", "Yên Bái"), ("METRIC", "44/63")],
                                 "44/63")
    features = by_value(provinces, NATIONAL)[0].features
    assert "province_count:rank" in features and "province_count" not in features


def test_a_one_stop_desk_is_no_ministry():
    text = "Bộ phận một cửa tiếp nhận 1.028 hồ sơ."
    gold, context = layout_contexts([document(text, [("AGENCY", "Bộ phận một cửa"), ("METRIC", "1.028")])])[0]
    entities = [EntitySpan(e["start"], e["end"], e["label"], e["text"]) for e in gold["entities"]]
    facts = FactLinker(default_resolver()).link_facts(text, entities, context)
    assert facts[0]["province"] is None  # a ministry ("Bộ ...") would have made it Việt Nam


@pytest.mark.parametrize("text, spans, figure, unnamed", [
    ("Hải Phòng đạt 0,52 điểm, trong khi địa phương xếp cuối chỉ đạt khoảng 0,19 điểm.",
     [("LOCATION", "Hải Phòng"), ("METRIC", "0,52 điểm"), ("METRIC", "khoảng 0,19 điểm")], "khoảng 0,19 điểm", True),
    ("Hải Phòng đạt 0,52 điểm, trong khi địa phương xếp cuối chỉ đạt khoảng 0,19 điểm.",
     [("LOCATION", "Hải Phòng"), ("METRIC", "0,52 điểm"), ("METRIC", "khoảng 0,19 điểm")], "0,52 điểm", False),
    ("Ngược lại, có 18 tỉnh tỷ lệ dưới 2%.", [("METRIC", "dưới 2%")], "dưới 2%", True),
    ("Một số địa phương như Cao Bằng, Hà Giang có điểm dưới 60.",
     [("LOCATION", "Cao Bằng"), ("LOCATION", "Hà Giang"), ("METRIC", "dưới 60")], "dưới 60", True),
    ("Toàn quốc có 43/63 tỉnh đạt trên 80%.", [("METRIC", "43/63"), ("METRIC", "trên 80%")], "trên 80%", False),
])
def test_provinces_left_unnamed_tell_the_null_candidate(text, spans, figure, unnamed):
    provinces, _ = candidates_of(text, spans, figure)
    assert ("unnamed_subject" in by_value(provinces, None, "null")[0].features) == unnamed


def test_a_related_articles_list_is_marked_for_its_own_figures_and_for_the_bodys():
    text = ("Bình Phước đẩy mạnh dịch vụ công\nTỉnh có 90% hồ sơ trực tuyến năm 2024.\n"
            "Tin liên quan\n- Đồng Nai: 100% xã kết nối mạng năm 2023\nKim Phượng")
    spans = [("LOCATION", "Bình Phước"), ("METRIC", "90%"), ("DATE", "năm 2024"), ("LOCATION", "Đồng Nai"),
             ("METRIC", "100%"), ("DATE", "năm 2023")]
    provinces, years = candidates_of(text, spans, "90%")
    assert "related_news" in by_value(provinces, "Đồng Nai")[0].features  # a headline's place, seen from the body
    assert "related_news" not in by_value(provinces, "Bình Phước", "mention")[0].features
    assert "related_news" not in by_value(years, 2024)[0].features
    provinces, years = candidates_of(text, spans, "100%")
    assert "kind=null&fig:related_news" in by_value(years, None)[0].features
    assert "related_news" not in by_value(provinces, "Đồng Nai")[0].features  # the headline's own place
    assert "related_news" not in by_value(years, 2023)[0].features
