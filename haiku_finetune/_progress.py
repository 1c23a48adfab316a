"""Which tqdm class draws the library's progress bars: the notebook widget when it can work, else plain text.

``tqdm.auto`` picks the widget in any Jupyter kernel and, when ipywidgets is missing, falls back to text with a
``TqdmWarning`` ("IProgress not found") in every notebook. Checking for ipywidgets first gives the same bar
without the warning. This module only chooses the class; the callers (``_wait.py``, ``_batch.py``) draw.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["tqdm_class"]


def tqdm_class() -> Any:
    """Return ``tqdm.auto.tqdm`` when ipywidgets is installed, else the plain-text ``tqdm.std.tqdm``."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm as auto

        return auto
    from tqdm.std import tqdm as plain

    return plain
