import pytest

import pipeline


@pytest.mark.parametrize(
    "text, name, roles, province",
    [
        ("Phó Bí thư Tỉnh ủy, Chủ tịch UBND tỉnh Cà Mau Huỳnh Quốc Việt phát biểu.", "Huỳnh Quốc Việt",
         ["Phó Bí thư Tỉnh ủy", "Chủ tịch UBND tỉnh Cà Mau"], "Cà Mau"),
        ("Đồng chí Trịnh Xuân Trường, Phó Bí thư Tỉnh ủy, Chủ tịch UBND tỉnh chủ trì cuộc họp.", "Trịnh Xuân Trường",
         ["Phó Bí thư Tỉnh ủy", "Chủ tịch UBND tỉnh"], None),
        ("Ông Nguyễn Văn An cho biết tỉnh sẽ đầu tư thêm.", "Nguyễn Văn An", [], None),
    ],
)
def test_officials_with_their_roles(nlp, text, name, roles, province):
    doc = pipeline.process(nlp, text)
    (official,) = doc._.officials
    assert (official["name"], official["roles"], official["province"]) == (name, roles, province)
    assert text[official["start"] : official["end"]] == name


def test_officials_take_the_documents_province(nlp):
    doc = pipeline.process(nlp, "Chủ tịch UBND tỉnh Trịnh Xuân Trường phát biểu.", {"province": "Lào Cai"})
    assert doc._.officials[0]["province"] == "Lào Cai"


def test_officials_table_in_duckdb(nlp, tmp_path):
    import json

    import duckdb

    from pipeline.extract import run_extraction

    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "Giám đốc Sở Y tế tỉnh Nghệ An Lê Văn Bình phát biểu."},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    run_extraction(nlp, [path], [tmp_path / "c.duckdb"])
    rows = duckdb.connect(str(tmp_path / "c.duckdb")).execute("SELECT name, roles, province FROM officials").fetchall()
    assert rows == [("Lê Văn Bình", ["Giám đốc Sở Y tế tỉnh Nghệ An"], "Nghệ An")]
