import pytest

from pipeline.provinces import default_resolver, tone_variants


def test_sixty_three_provinces_from_underthesea():
    assert len(default_resolver().canonical_names) == 63


@pytest.mark.parametrize(
    "spelling, canonical, after_merger",
    [("Lào Cai", "Lào Cai", "Lào Cai"), ("tỉnh Yên Bái", "Yên Bái", "Lào Cai"), ("Khánh Hoà", "Khánh Hòa", "Khánh Hòa"),
     ("Huế", "Thừa Thiên Huế", "Huế"), ("Thừa Thiên Huế", "Thừa Thiên Huế", "Huế"),
     ("Bà Rịa-Vũng Tàu", "Bà Rịa - Vũng Tàu", "Hồ Chí Minh"), ("TP.HCM", "Hồ Chí Minh", "Hồ Chí Minh"),
     ("thành phố Cần Thơ", "Cần Thơ", "Cần Thơ"), ("Bạc Liêu", "Bạc Liêu", "Cà Mau")],
)
def test_resolve_and_map_after_merger(spelling, canonical, after_merger):
    resolver = default_resolver()
    assert resolver.resolve(spelling) == canonical
    assert resolver.after_merger(canonical) == after_merger


def test_unknown_place_is_not_a_province():
    assert default_resolver().resolve("Hàn Quốc") is None
    assert default_resolver().after_merger(None) is None


def test_tone_variants_cover_old_and_new_placement():
    assert tone_variants("Hòa Bình") == {"Hòa Bình", "Hoà Bình"}
    assert tone_variants("Thanh Hoá") == {"Thanh Hoá", "Thanh Hóa"}
