import pytest

from pipeline.layout import analyse_layout, load_boilerplate

BOILERPLATE = load_boilerplate()


def test_hard_wraps_join_lines_into_one_paragraph():
    text = ("Tăng cường ứng dụng công nghệ thông tin trên địa bàn tỉnh Lào Cai\n"
            "Hạ tầng CNTT được quan tâm đầu tư cơ bản đáp ứng yêu cầu triển khai các\n"
            "phần mềm dùng chung của tỉnh. Hạ tầng mạng phủ sóng đến 100%\n"
            "trung tâm các xã.\nNhân lực được quan tâm.")
    layout = analyse_layout(text, BOILERPLATE)
    assert [text[s:e][:12] for s, e in layout.paragraphs] == ["Tăng cường ứ", "Hạ tầng CNTT", "Nhân lực đượ"]
    assert len(layout.wraps) == 2
    assert text[layout.title[0] : layout.title[1]].endswith("tỉnh Lào Cai")


def test_long_line_before_capitalised_acronym_is_a_wrap():
    text = "Tiêu đề bài viết về chuyển đổi số tỉnh\nTrong thời gian tới, để tiếp tục đẩy mạnh ứng dụng\nCNTT, tỉnh cần tập trung."
    layout = analyse_layout(text, BOILERPLATE)
    assert len(layout.paragraphs) == 2


@pytest.mark.parametrize("dateline, published", [
    ("Thứ Bảy, 11/12/2021 - 10:15", "2021-12-11"),
    ("10:22 | 14/04/2023", "2023-04-14"),
    ("Cập nhật: 07:40 - 10/10/2024", "2024-10-10"),
    ("22/11/2024 14:45", "2024-11-22"),
    ("Thứ Hai, 15/7/2024, 11:20 (GMT+7)", "2024-07-15"),
    ("Ngày đăng: 03/06/2024 | Lượt xem: 1.482", "2024-06-03"),
    ("Hội nghị ngày 12/03/2021 bàn về chuyển đổi số", None),  # a sentence that holds a date is no dateline
])
def test_a_portals_dateline_in_its_common_forms_gives_the_publication_date(dateline, published):
    text = f"Tin học hóa công tác quản lý nhà nước ở địa phương\n{dateline}\nSáng 12-3, hội nghị diễn ra."
    assert analyse_layout(text, BOILERPLATE).published == published


@pytest.mark.parametrize("lead, published", [
    ("Hà Nội, ngày 28/12/2024 – Tại hội nghị trực tuyến toàn quốc, Bộ Công an cho biết", "2024-12-28"),
    ("Cao Bằng, 18/4/2021 - Những ngày này, thợ kỹ thuật lắp trạm BTS", "2021-04-18"),
    ("(baodongthap.vn) - Đồng Tháp, ngày 1/2/2020 – Tỉnh có 143 xã", "2020-02-01"),
    ("Bình Phước, ngày 15/12/2023 (TTXVN) – Năm 2023 là năm Bình Phước đẩy mạnh Đề án 06", "2023-12-15"),
    # an event's date or a figure's is no dateline
    ("Ngày 23/12/2020, UBND tỉnh tổ chức hội nghị tổng kết", None),
    ("Tính đến ngày 31/12/2022 - cuối năm, tỉnh có 1.250 dịch vụ", None),
    ("Năm 2023, tỉnh có 12/15 huyện - thị xã đạt chuẩn", None),
])
def test_a_news_leads_dateline_gives_the_publication_date(lead, published):
    """Guidelines, years rule 5: a figure stated as current takes the publication year, from the metadata "else a
    dateline"; a news agency's lead opens with one ("Hà Nội, ngày 28/12/2024 – ...")."""
    text = f"Tin học hóa công tác quản lý nhà nước ở địa phương\n{lead}, đến nay có 57 triệu tài khoản."
    assert analyse_layout(text, BOILERPLATE).published == published


def test_dateline_gives_publication_date_and_byline_is_excluded():
    text = "Tin học hóa công tác quản lý nhà nước ở địa phương\n15:30, 12/03/2021\nSáng 12-3, hội nghị diễn ra.\nThế Hùng\nÝ kiến bạn đọc"
    layout = analyse_layout(text, BOILERPLATE)
    assert layout.published == "2021-03-12"
    assert layout.byline == "Thế Hùng"
    assert any(text[s:e] == "Thế Hùng" for s, e in layout.excluded)


def test_photo_credit_is_excluded():
    text = "Trung tâm thành phố Cà Mau. (Ảnh: Thế Anh/TTXVN)\n"
    layout = analyse_layout(text, BOILERPLATE)
    assert [text[s:e] for s, e in layout.excluded] == ["(Ảnh: Thế Anh/TTXVN)"]


def test_sentences_split_at_final_punctuation_not_abbreviations():
    text = "Năm 2020, tỉnh đạt 70%. Hệ thống iGate cung cấp 1.664 dịch vụ tại TP. Hồ Chí Minh. Kết thúc"
    layout = analyse_layout(text, BOILERPLATE)
    assert [text[s:e] for s, e in layout.sentences] == [
        "Năm 2020, tỉnh đạt 70%.", "Hệ thống iGate cung cấp 1.664 dịch vụ tại TP. Hồ Chí Minh.", "Kết thúc"]


def test_caption_first_line_is_not_a_title():
    text = "Đồng chí Trịnh Xuân Trường chủ trì cuộc họp.\nQuang cảnh cuộc họp. |\nTại cuộc họp, lãnh đạo Sở báo cáo."
    assert analyse_layout(text, BOILERPLATE).title is None


def test_empty_text_has_no_structure():
    layout = analyse_layout("", BOILERPLATE)
    assert (layout.paragraphs, layout.sentences, layout.title) == ([], [], None)


def test_table_rows_are_one_paragraph_and_one_sentence_each():
    text = ("Theo báo cáo, tỉnh đã hoàn thành 27/41 chỉ tiêu của chương trình chuyển đổi số đến nay\n"
            "Chỉ tiêu | Năm 2021 | Năm 2023\n"
            "Hồ sơ trực tuyến trên tổng số hồ sơ tiếp nhận | 12,4% | 58,6%\n"
            "Văn bản ký số | 71% | 97,3%\n"
            "Quang cảnh hội nghị. |\n"
            "10:22 | 14/04/2023\n")
    layout = analyse_layout(text, BOILERPLATE)
    paragraphs = [text[s:e] for s, e in layout.paragraphs]
    assert paragraphs[1].startswith("Chỉ tiêu") and paragraphs[1].endswith("97,3%")
    assert paragraphs[2:] == ["Quang cảnh hội nghị. |", "10:22 | 14/04/2023"]
    sentences = [text[s:e] for s, e in layout.sentences]
    assert sentences[1:4] == ["Chỉ tiêu | Năm 2021 | Năm 2023",
                              "Hồ sơ trực tuyến trên tổng số hồ sơ tiếp nhận | 12,4% | 58,6%",
                              "Văn bản ký số | 71% | 97,3%"]
