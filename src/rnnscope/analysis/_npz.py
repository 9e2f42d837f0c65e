"""Typed analysis results as ``.npz`` files: numpy arrays named like the attributes, plus ``meta``,
a JSON string (with a ``format`` tag) for the scalar fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError


def save_arrays(path: str | Path, arrays: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write the tensors and the JSON ``meta``; ``.npz`` is appended when missing. Returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    np.savez(path, meta=np.array(json.dumps(meta)), **{k: v.detach().cpu().numpy() for k, v in arrays.items()})
    return path


def load_arrays(path: str | Path, names: tuple[str, ...], kind: str) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors ``names`` and the ``meta`` dict of a file written by :func:`save_arrays`;
    a :class:`ConfigError` naming ``kind`` when any is missing."""
    with np.load(Path(path), allow_pickle=False) as data:
        missing = [name for name in (*names, "meta") if name not in data.files]
        if missing:
            raise ConfigError(f"{str(path)!r} is not a {kind} file: it lacks {', '.join(missing)}.")
        meta = json.loads(str(data["meta"]))
        return {name: torch.from_numpy(np.array(data[name])) for name in names}, meta
