"""underthesea's data files and pure-Python modules, reached without running `underthesea/__init__.py`.

underthesea's top-level import loads every pipeline of the package, its
translator among them, which imports torch and transformers: seconds of
start-up and hundreds of MB for a process that only needs the word
segmenter's model files and the address data. `underthesea_dir` finds the
package without importing it; `import_underthesea_module` imports one
submodule with the package's `__init__.py` skipped (and chosen modules
replaced), and leaves `sys.modules` as it found it, so that a plain
`import underthesea` before or after (the transformer backend, a test
comparing with underthesea) is unaffected.
"""

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pipeline.errors import ModelError

PACKAGE = "underthesea"


def underthesea_dir() -> Path:
    """The folder of the installed underthesea package (nothing is imported).

    Raises:
        ModelError: underthesea is not installed.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("underthesea is not installed: its word segmentation model is needed; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations)))


def import_underthesea_module(name: str, stand_ins: dict[str, ModuleType]) -> ModuleType:
    """A fresh `underthesea.<name>`, imported without running `underthesea/__init__.py`; the modules named in
    `stand_ins` (full names) are replaced by the given objects while it imports."""
    saved = {key: module for key, module in sys.modules.items() if key == PACKAGE or key.startswith(f"{PACKAGE}.")}
    for key in saved:
        del sys.modules[key]
    before = set(sys.modules)
    # An empty package object stands in for underthesea: its submodules find their parent in sys.modules, so
    # its __init__.py never runs.
    package = ModuleType(PACKAGE)
    package.__path__ = [str(underthesea_dir())]
    sys.modules.update({PACKAGE: package, **stand_ins})
    try:
        return importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        for loaded in set(sys.modules) - before:
            if loaded == PACKAGE or loaded.startswith(f"{PACKAGE}."):
                del sys.modules[loaded]
        sys.modules.update(saved)
