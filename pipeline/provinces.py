"""Province names: the 63 pre-2025 provinces, their spellings, and the 2025 merger mapping.

The names and the mapping come from underthesea's address data
(`underthesea/address/data/mapping.json`); the gazetteer files add spellings
seen in news text and the few canonical names the guidelines write differently.
"""

import json
import unicodedata
from functools import cached_property, lru_cache

import regex

from pipeline.gazetteers import load_pairs
from pipeline.underthesea_files import underthesea_dir

# Old and new tone placement in the rhymes oa, oe, uy ("Hòa" and "Hoà").
_TONES = {"\u0300", "\u0301", "\u0309", "\u0303", "\u0323"}


def tone_variants(name: str) -> set[str]:
    """`name` with the tone mark of oa/oe/uy rhymes on either vowel, in NFC."""
    variants = {name}
    decomposed = unicodedata.normalize("NFD", name)
    chars = list(decomposed)
    for i in range(len(chars) - 2):
        first, mark, second = chars[i], chars[i + 1], chars[i + 2]
        pair = (first + second).lower()
        if mark in _TONES and pair in ("oa", "oe", "uy"):
            moved = chars[:i] + [first, second, mark] + chars[i + 3 :]
            variants.add(unicodedata.normalize("NFC", "".join(moved)))
        if first.lower() + chars[i + 1].lower() in ("oa", "oe", "uy") and second in _TONES:
            moved = chars[:i] + [first, second, chars[i + 1]] + chars[i + 3 :]
            variants.add(unicodedata.normalize("NFC", "".join(moved)))
    return variants


def _fold(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).replace("-", " - ").split()).lower()


class ProvinceResolver:
    """Maps province spellings to canonical pre-2025 names and to their 2025 province."""

    def __init__(self, mapping: dict, overrides: list[tuple[str, str]], aliases: list[tuple[str, str]]):
        renamed = dict(overrides)
        new_names = mapping["province_names"]
        self._canonical: dict[str, str] = {}
        self._after_merger: dict[str, str] = {}
        self._spellings: set[str] = set()
        for key, info in mapping["old_province_names"].items():
            canonical = renamed.get(info["short"], info["short"])
            self._after_merger[canonical] = new_names[mapping["province_mapping"][key]]["short"]
            for spelling in (info["short"], canonical):
                self._add(spelling, canonical)
        for spelling, canonical in aliases:
            if canonical not in self._after_merger:
                raise ValueError(f"province alias {spelling!r} points to unknown province {canonical!r}")
            self._add(spelling, canonical)

    def _add(self, spelling: str, canonical: str) -> None:
        for variant in tone_variants(spelling):
            self._spellings.add(variant)
            self._canonical[_fold(variant)] = canonical

    @property
    def canonical_names(self) -> list[str]:
        """The 63 canonical pre-2025 names."""
        return sorted(self._after_merger)

    @property
    def spellings(self) -> list[str]:
        """Every spelling the resolver knows, longest first (for building patterns)."""
        return sorted(self._spellings, key=len, reverse=True)

    @cached_property
    def _pattern(self) -> regex.Pattern:
        return regex.compile(r"(?<![\p{L}\p{M}])(?:" + "|".join(regex.escape(s) for s in self.spellings)
                             + r")(?![\p{L}\p{M}])")

    def find(self, text: str) -> tuple[int, int, str] | None:
        """The first province named in `text` ("UBND tỉnh Cà Mau" → (10, 16, "Cà Mau")), or None."""
        match = self._pattern.search(text)
        return (match.start(), match.end(), self.resolve(match.group())) if match else None

    def find_all(self, text: str) -> list[tuple[int, int, str]]:
        """Every province named in `text`, in order."""
        return [(m.start(), m.end(), self.resolve(m.group())) for m in self._pattern.finditer(text)]

    def named_by(self, label: str, text: str) -> str | None:
        """The province a LOCATION is, or the one an AGENCY's name contains; None for other labels."""
        if label == "LOCATION":
            return self.resolve(text)
        found = self.find(text) if label == "AGENCY" else None
        return found[2] if found else None

    def resolve(self, text: str) -> str | None:
        """The canonical pre-2025 name for a spelling (with or without an administrative prefix), or None."""
        folded = _fold(text)
        for prefix in ("thành phố ", "tỉnh ", "tp. ", "tp "):
            if folded.startswith(prefix) and folded[len(prefix) :] in self._canonical:
                return self._canonical[folded[len(prefix) :]]
        return self._canonical.get(folded)

    def after_merger(self, canonical: str | None) -> str | None:
        """The province that `canonical` belongs to since the 2025 merger (34 provinces)."""
        if canonical is None:
            return None
        return self._after_merger.get(canonical)


@lru_cache(maxsize=1)
def default_resolver() -> ProvinceResolver:
    """The resolver over underthesea's bundled address data (read once per process)."""
    # Found, not imported: `import underthesea` would load torch and transformers (pipeline.underthesea_files).
    path = underthesea_dir() / "address" / "data" / "mapping.json"
    with path.open(encoding="utf-8") as fh:
        mapping = json.load(fh)
    return ProvinceResolver(mapping, load_pairs("province_overrides.tsv"), load_pairs("province_aliases.tsv"))
