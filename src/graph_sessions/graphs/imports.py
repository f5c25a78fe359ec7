"""Import a Python file by path: user graph files (``file.py:graph``) and YAML python tools.

The one place that runs a user's file as a module, below both :mod:`.references` and
:mod:`.yaml` so that neither imports the other for it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

__all__ = ["import_file_as_module"]


def import_file_as_module(path: Path, prefix: str) -> Any:
    """Import a Python file as a module named after its resolved path (imported once per
    process), with its folder importable while it runs, as when run as a script. Whatever
    the file raises (``SystemExit`` included) propagates and leaves no module behind."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"{prefix}_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(folder)
    return module
