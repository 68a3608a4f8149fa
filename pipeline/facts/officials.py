"""Officials: each named person with the posts and bodies the text gives them.

"Phó Bí thư Tỉnh ủy, Chủ tịch UBND tỉnh Cà Mau Huỳnh Quốc Việt" and
"Đồng chí Trịnh Xuân Trường, Phó Bí thư Tỉnh ủy, Chủ tịch UBND tỉnh" both give
the person two roles, each a TITLE with the AGENCY that follows it. The chain
of roles is read right before the name or right after it (after a comma),
through whitespace and commas only.
"""

import regex

from pipeline.facts.link import EntitySpan

LINK = regex.compile(r"\s*,?\s*")


def adjacent(text: str, left_end: int, right_start: int) -> bool:
    """True when only whitespace and at most one comma separate two spans."""
    return left_end <= right_start and LINK.fullmatch(text[left_end:right_start]) is not None


def roles_from(entities: list[EntitySpan], text: str) -> list[str]:
    """Roles ("Chủ tịch UBND tỉnh") from a run of TITLE/AGENCY spans; an AGENCY belongs to the TITLE before it."""
    roles = []
    for entity in entities:
        if entity.label == "TITLE":
            roles.append(entity.text)
        elif roles and entity.label == "AGENCY":
            roles[-1] = f"{roles[-1]} {entity.text}"
    return roles


def chain(entities: list[EntitySpan], text: str, index: int, step: int) -> list[EntitySpan]:
    """The run of TITLE/AGENCY spans next to `entities[index]`, going left (step -1) or right (step 1)."""
    run = []
    i = index + step
    while 0 <= i < len(entities) and entities[i].label in ("TITLE", "AGENCY"):
        left, right = (entities[i], entities[i - step]) if step == -1 else (entities[i - step], entities[i])
        if not adjacent(text, left.end, right.start):
            break
        run.append(entities[i])
        i += step
    return run[::-1] if step == -1 else run


def link_officials(text: str, entities: list[EntitySpan], province_of, own_province: str | None) -> list[dict]:
    """One record per OFFICIAL mention: name, offsets, roles, and the province of its bodies or the document's.

    Args:
        province_of: maps an AGENCY `EntitySpan` to the province it names, or None.
        own_province: the document's own province, used when no body names one.
    """
    ordered = sorted(entities, key=lambda e: e.start)
    officials = []
    for i, entity in enumerate(ordered):
        if entity.label != "OFFICIAL":
            continue
        run = chain(ordered, text, i, -1) or chain(ordered, text, i, 1)
        named = [p for p in (province_of(e) for e in run if e.label == "AGENCY") if p]
        officials.append({"name": entity.text, "start": entity.start, "end": entity.end,
                          "roles": roles_from(run, text), "province": named[0] if named else own_province})
    return officials
