"""The rule recognizer on sentences from the seed articles, label by label, and its exclusions."""

import pytest

from tests.conftest import spans


@pytest.mark.parametrize(
    "text, expected",
    [
        ("có trên 888.000 văn bản điện tử", ["trên 888.000"]),
        ("nhiệm vụ đã thực hiện là 101 bằng 70,6%, còn 42 nhiệm vụ", ["101", "70,6%", "42"]),
        ("tỷ lệ hồ sơ đạt 35%-40% trở lên", ["35%-40%"]),
        ("cho 5/6 hệ thống thông tin cấp độ 3", ["5/6"]),
        ("được bố trí ít nhất 01 cán bộ chuyên trách", ["ít nhất 01"]),
        ("đã giải quyết gần 380.000 hồ sơ", ["gần 380.000"]),
        ("tỉnh đứng thứ 13/63 và tăng 1 bậc", ["thứ 13/63", "1 bậc"]),
        ("tỉnh xếp thứ hai toàn quốc", ["thứ hai"]),
        ("tổng vốn 1,5 tỷ đồng", ["1,5 tỷ đồng"]),
        ("tỷ lệ cao hơn 5% so với năm trước", ["5%"]),
        ("tỉnh đạt 81,36/100 điểm, cho 5/6 hệ thống", ["81,36/100 điểm", "5/6"]),
        ("đạt 82,6 điểm, có 46 điểm phát wifi và 56 điểm Bưu điện văn hóa xã", ["82,6 điểm", "46", "56"]),
        ("tỷ lệ chưa tới 10%, ≥ 90% hồ sơ, chỉ số <0,3", ["chưa tới 10%", "≥ 90%", "<0,3"]),
        ("tăng gần gấp ba lần, cao gấp khoảng hai lần; một lần nữa, lần thứ ba", ["gần gấp ba lần", "khoảng hai lần"]),
        ("số hồ sơ đã tăng hơn 3,6 lần, thời gian giảm hơn 30%", ["hơn 3,6 lần", "hơn 30%"]),
        ("tỉnh đứng thứ hai, sau Hà Nội", ["thứ hai"]),
        ("tỷ lệ đạt mức 52,1% năm 2023", ["52,1%"]),
        ("mật độ đạt khoảng 14,8 thuê bao/100 dân, vẫn thấp", ["khoảng 14,8 thuê bao/100 dân"]),
        ("tăng 12%/năm, giá từ 5.000 đến 8.000 đồng/kg", ["12%/năm", "5.000 đến 8.000 đồng/kg"]),
        ("tỉnh xếp vị trí 33/63, chỉ số ở mức thứ 9", ["vị trí 33/63", "thứ 9"]),
        ("82 dịch vụ mức độ 3 và 4 dịch vụ mức độ 4", ["82", "4"]),
        ("đã có 53 hộ có điện thoại, trong đó 17 chiếc điện thoại thông minh", ["53", "17"]),
        ("mở 08 lớp tập huấn cho 5/6 nhóm thủ tục", ["08", "5/6"]),
        ("mỗi tổ có từ 5 đến 7 thành viên, hỗ trợ 150-200 lượt", ["5 đến 7", "150-200"]),
        # the contrasts of the "Not METRIC" cases below: a target group, a count with a result, a ranking table
        ("tỉnh phấn đấu vào nhóm 20 địa phương dẫn đầu về chuyển đổi số", ["20"]),
        ("Năm 2021, cả nước có 5 tỉnh, thành phố đạt SIPAS trên 88%, gồm Quảng Ninh", ["5", "trên 88%"]),
        ("Điểm trung bình của 63 tỉnh, thành phố là 0,45", ["63", "0,45"]),
        ("còn 04 nhiệm vụ đang triển khai", ["04"]),
        ("tỷ lệ chỉ đạt từ 55% đến dưới 65%.", ["55% đến dưới 65%"]),  # one bracket (guidelines v2)
        ("Từ 8 đến gần 3.000 dịch vụ", ["8", "gần 3.000"]),  # a change: two figures
        ("đứng thứ nhất trong 63 tỉnh, thành phố", ["thứ nhất"]),  # the rank, not what it is out of
        ("Hạng | Đơn vị | Điểm\n1 | Sở Tài chính | 0,7412", ["1", "0,7412"]),
    ],
)
def test_metric(recognizer, text, expected):
    assert [t for _, t in spans(recognizer, text, "METRIC")] == expected


@pytest.mark.parametrize(
    "text",
    [
        "dịch vụ công trực tuyến mức độ 4 có phí",
        "phổ cập dịch vụ mạng di động 4G, triển khai 5G",
        "phòng, chống dịch COVID-19",
        "Sau 02 năm thực hiện Quy hoạch",
        "sau gần 2 năm triển khai",
        "Cách mạng công nghiệp lần thứ tư",
        "Thứ nhất, tăng cường tuyên truyền",
        "Nghị định số 42/2022/NĐ-CP",
        # guidelines v2, "Not METRIC": levels in a list, documents, weekdays, hotlines, list markers, parts, ages
        "dịch vụ công trực tuyến mức độ 3, 4 lên Cổng",
        "Thực hiện Đề án 06 của Chính phủ",
        "Thứ năm, 20/12/2018 - 10:12",
        "làm việc cả ngày thứ bảy, chủ nhật",
        "gọi đường dây nóng 0269.3.888.000 hoạt động 24/7",
        "liên hệ tổng đài 1900 0368 để được hướng dẫn",
        "KẾT QUẢ\n1. Về chính quyền số",
        "tập trung vào 3 nhóm nhiệm vụ: hạ tầng, ứng dụng",
        "chính quyền địa phương 2 cấp, liên thông 4 cấp",
        "công dân từ 14 tuổi trở lên, trẻ em dưới 6 tuổi",
        "IOC giai đoạn 1 đặt tại tầng 2 trụ sở",
        "vận hành theo mô hình 4 lớp về an toàn thông tin",
        "Ngày 14/11, UBND xã tổ chức",
        "đi xuống trung tâm xã mất gần 1 tiếng",
        "Kế hoạch giai đoạn 2021-2025",
        # event ordinals, a list's lead, names, levels, counters, durations, row numbers
        "Đây là năm thứ hai liên tiếp tỉnh cải thiện thứ hạng",
        "Nghị quyết được thông qua tại kỳ họp thứ hai.",
        "nhóm 5 địa phương dẫn đầu năm 2023 gồm Hà Nội, Đà Nẵng",
        "Nhóm 10 địa phương dẫn đầu cả nước lần lượt là: Đà Nẵng, Hà Nội",
        "dọc Quốc lộ 9 và ở phường 3, thành phố Tây Ninh",
        "Trung tâm dữ liệu đạt tiêu chuẩn Tier 3.",
        "Cập nhật: 16/07/2024 10:32\nLượt xem: 1.245",
        "Tỉnh xác định 3 giải pháp trọng tâm, tập trung 3 nhiệm vụ đột phá",
        "cơ sở lưu trú từ 3 sao trở lên",
        "bấm gửi là xong, chưa đầy 5 phút",
        "TT | Chỉ tiêu | Kế hoạch\n1 | Tỷ lệ hồ sơ trực tuyến | kế hoạch",
        "Mới 7 giờ 30 sáng, Thứ Hai, 11:20 (GMT+7)",
        "gọi ngay đường dây nóng 113 hoặc tổng đài hỗ trợ 1900 1812",
        "dịch vụ công trực tuyến mức độ 3 và 4. Phát biểu",
    ],
)
def test_not_metric(recognizer, text):
    assert spans(recognizer, text, "METRIC") == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("15:30, 12/03/2021\nSáng 12-3, Ban Chỉ đạo", ["15:30, 12/03/2021", "12-3"]),
        ("Năm 2020, cấp ủy đảng quan tâm", ["Năm 2020"]),
        ("sau gần 2 năm (2021 - 2022) triển khai giai đoạn 2021-2025", ["2021 - 2022", "giai đoạn 2021-2025"]),
        ("Nghị định số 42/2022/NĐ-CP, ngày 24/6/2022 của Chính phủ", ["ngày 24/6/2022"]),
        ("giai đoạn 2022-2025 tầm nhìn 2030", ["giai đoạn 2022-2025", "2030"]),
        ("trong 6 tháng đầu năm 2023 và quý III/2025", ["6 tháng đầu năm 2023", "quý III/2025"]),
        ("đến năm 2025, định hướng đến năm 2030", ["năm 2025", "năm 2030"]),
    ],
)
def test_date(recognizer, text, expected):
    assert [t for _, t in spans(recognizer, text, "DATE")] == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("theo quy định Nghị định số 42/2022/NĐ-CP, ngày 24/6/2022", ["Nghị định số 42/2022/NĐ-CP"]),
        ("thực hiện Quyết định 6085/QĐ-BYT của Bộ Y tế", ["Quyết định 6085/QĐ-BYT"]),
        ("ban hành Nghị quyết số 05-NQ/TU về chuyển đổi số", ["Nghị quyết số 05-NQ/TU"]),
        ("triển khai Đề án 06 tại 100% xã, đề án 2 năm", ["Đề án 06"]),
    ],
)
def test_document(recognizer, text, expected):
    assert [t for _, t in spans(recognizer, text, "DOCUMENT")] == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("trên địa bàn tỉnh Lào Cai", [("LOCATION", "tỉnh Lào Cai")]),
        ("Trung tâm thành phố Cà Mau.", [("LOCATION", "thành phố Cà Mau")]),
        ("kinh nghiệm của Hàn Quốc và các nước", [("LOCATION", "Hàn Quốc")]),
        ("Giám đốc Sở Thông tin và Truyền thông tỉnh Cà Mau Trần Quốc Chính cho biết",
         [("TITLE", "Giám đốc"), ("AGENCY", "Sở Thông tin và Truyền thông tỉnh Cà Mau"), ("OFFICIAL", "Trần Quốc Chính")]),
        ("Phó Bí thư Tỉnh ủy, Chủ tịch UBND tỉnh Cà Mau Huỳnh Quốc Việt",
         [("TITLE", "Phó Bí thư"), ("AGENCY", "Tỉnh ủy"), ("TITLE", "Chủ tịch"), ("AGENCY", "UBND tỉnh Cà Mau"),
          ("OFFICIAL", "Huỳnh Quốc Việt")]),
        ("Phó Chủ tịch Thường trực UBND tỉnh, Trưởng Ban Chỉ đạo xây dựng Chính quyền điện tử tỉnh Nguyễn Tuấn Hà chủ trì",
         [("TITLE", "Phó Chủ tịch Thường trực"), ("AGENCY", "UBND tỉnh"), ("TITLE", "Trưởng"),
          ("AGENCY", "Ban Chỉ đạo xây dựng Chính quyền điện tử tỉnh"), ("OFFICIAL", "Nguyễn Tuấn Hà")]),
        ("Đồng chí Trịnh Xuân Trường, Phó Bí thư Tỉnh ủy",
         [("OFFICIAL", "Trịnh Xuân Trường"), ("TITLE", "Phó Bí thư"), ("AGENCY", "Tỉnh ủy")]),
        ("Chuyên viên Trung tâm Giải quyết thủ tục hành chính tỉnh Cà Mau hướng dẫn người dân",
         [("AGENCY", "Trung tâm Giải quyết thủ tục hành chính tỉnh Cà Mau")]),
        ("TTXVN - Để vượt qua khó khăn", [("AGENCY", "TTXVN")]),
        # a body's name ends at the verb after it, leaving the figure whole
        ("của Văn phòng Chính phủ đạt 82,6 điểm", [("AGENCY", "Văn phòng Chính phủ"), ("METRIC", "82,6 điểm")]),
        ("định hướng phát triển Chính phủ điện tử", []),
    ],
)
def test_named_entities(recognizer, text, expected):
    assert spans(recognizer, text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("qua Hệ thống quản lý văn bản và điều hành (iDesk);", ["Hệ thống quản lý văn bản và điều hành", "iDesk"]),
        ("Hệ thống iGate cung cấp 1.664 dịch vụ công", ["Hệ thống iGate"]),
        ("nâng cao chất lượng của các phần mềm như Igate, dịch vụ công", ["Igate"]),
        ("Cổng Dịch vụ công của tỉnh đã kết nối với Cổng Dịch vụ công quốc gia",
         ["Cổng Dịch vụ công", "Cổng Dịch vụ công quốc gia"]),
        ("cài đặt tại Trung tâm Dữ liệu của tỉnh", ["Trung tâm Dữ liệu"]),
        ("chia sẻ dữ liệu cấp tỉnh (LGSP) và Trung tâm giám sát, điều hành thông minh (IOC).",
         ["LGSP", "Trung tâm giám sát, điều hành thông minh", "IOC"]),
        ("triển khai hệ thống thư điện tử của tỉnh và phần mềm quản lý văn bản", []),
    ],
)
def test_system(recognizer, text, expected):
    assert [t for _, t in spans(recognizer, text, "SYSTEM")] == expected


def test_generic_bodies_are_not_agencies(recognizer):
    text = "các cơ quan cấp tỉnh, UBND cấp huyện và các sở, ban, ngành"
    assert spans(recognizer, text, "AGENCY") == []


def test_title_without_holder_is_not_tagged(recognizer):
    assert spans(recognizer, "vai trò của chủ tịch và giám đốc trong chuyển đổi số", "TITLE") == []


def test_excluded_regions_hold_no_entity(recognizer):
    text = "Trung tâm thành phố Cà Mau. (Ảnh: Thế Anh/TTXVN)"
    found = recognizer.find(text, [(text.index("("), len(text))])
    assert [text[c.start : c.end] for c in found] == ["thành phố Cà Mau"]


def test_seed_label_coverage(seed_docs):
    labels = {e.label_ for doc in seed_docs for e in doc.ents}
    assert labels == {"AGENCY", "OFFICIAL", "TITLE", "SYSTEM", "METRIC", "DATE", "LOCATION", "DOCUMENT"}
