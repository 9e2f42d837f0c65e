"""Imports every public module of :mod:`rnnscope.experiments` so that each reproduction registers itself.

A new reproduction is a new module ``rnnscope/experiments/NAME.py`` that calls
:func:`~rnnscope.experiments.register`; nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

for _info in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__package__}.{_info.name}")
