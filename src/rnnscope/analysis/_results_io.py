"""The one saver and loader of typed analysis results (:class:`FixedPoints`, :class:`FlowField`,
:class:`LyapunovSpectrum`, :class:`SimilarityResult`).

A result is one ``.npz`` file: numpy arrays named like the result's attributes, plus ``meta``, a JSON
string holding the scalar fields, a ``format`` tag naming the result type and the library version
that wrote it. Any problem reading one (no such file, not an ``.npz``, another result type, a missing
array) is a :class:`~rnnscope.errors.CheckpointError` naming the file and what was expected.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..errors import CheckpointError

__all__ = ["save_result", "load_result"]


def save_result(path: str | Path, kind: str, arrays: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``arrays`` (tensors or numpy arrays) and the JSON ``meta`` of a result of type ``kind``;
    ``.npz`` is appended when missing. Returns the path written."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    header = {"format": f"rnnscope.{kind}/1", "rnnscope_version": __version__, **meta}
    tensors = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
               for k, v in arrays.items()}
    np.savez(path, meta=np.array(json.dumps(header)), **tensors)
    return path


def load_result(path: str | Path, kind: str, names: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The arrays ``names`` (as tensors) and the ``meta`` dict of a ``kind`` result written by
    :func:`save_result`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No {kind} file at {str(path)!r}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise CheckpointError(f"{str(path)!r} is not a {kind} file: it has no 'meta' record.")
            meta = json.loads(str(data["meta"]))
            if not isinstance(meta, dict) or meta.get("format") != f"rnnscope.{kind}/1":
                got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
                raise CheckpointError(f"{str(path)!r} is not a {kind} file (format {got!r}, expected "
                                      f"'rnnscope.{kind}/1').")
            missing = [name for name in names if name not in data.files]
            if missing:
                raise CheckpointError(f"{str(path)!r} is not a complete {kind} file: it lacks {', '.join(missing)}.")
            arrays = {name: torch.from_numpy(np.array(data[name])) for name in names}
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(path)!r} is not a readable {kind} file (.npz): {exc}") from None
    return arrays, meta
