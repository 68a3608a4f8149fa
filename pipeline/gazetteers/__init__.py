"""Gazetteer data files shipped with the package: one entry per line, `#` starts a comment.

The files are the one source of truth for system names, agency heads, titles,
surnames and the other lists the rules read; provinces come from underthesea's
address data (see `pipeline.provinces`).
"""

from importlib.resources import files


def load_lines(name: str) -> list[str]:
    """The entries of gazetteer file `name`, in file order, without comments or blank lines."""
    text = files(__package__).joinpath(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def load_pairs(name: str) -> list[tuple[str, str]]:
    """The entries of a two-column tab-separated gazetteer file."""
    pairs = []
    for line in load_lines(name):
        left, _, right = line.partition("\t")
        pairs.append((left.strip(), right.strip()))
    return pairs
