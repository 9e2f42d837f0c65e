"""Checkpoints: one safetensors file, written atomically, verified on load.

The file holds the model's weights (``model.*``), the optimiser's tensors (``optimizer.*``) and, in
the safetensors metadata, JSON with the step, the optimiser's other state, the run configuration and
the library version, next to a SHA-256 of all tensors *and* that JSON: a damaged file, or one whose
step or settings were edited, is detected, not loaded. (Files of the first format,
``rnnscope-checkpoint-1``, have a checksum of the tensors only; they are still read.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..errors import CheckpointError

__all__ = ["Checkpoint", "save_checkpoint", "save_checkpoint_state", "load_checkpoint", "atomic_write_text",
           "strict_json", "jsonable"]

_FORMAT = "rnnscope-checkpoint-2"
_FORMAT_TENSORS_ONLY = "rnnscope-checkpoint-1"  # its checksum covers the tensors, not the metadata


@dataclass(frozen=True)
class Checkpoint:
    """The content of a checkpoint file."""

    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    step: int
    metadata: dict[str, Any]


def _digest(tensors: dict[str, torch.Tensor], metadata: str | None) -> str:
    """SHA-256 of the tensors (names, dtypes, shapes, bytes) and of the metadata JSON text."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key]
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    if metadata is not None:
        h.update(b"metadata:" + metadata.encode())
    return h.hexdigest()


def jsonable(value: Any) -> Any:
    """Plain JSON data: arrays and tensors as lists, numpy scalars as Python numbers, tuples as lists,
    NaN and infinities as None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def strict_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that writes strict JSON: NaN and infinities become ``null`` (Python's default
    writes a bare ``NaN``, which other JSON readers refuse)."""
    return json.dumps(jsonable(value), allow_nan=False, **kwargs)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old or the new file, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, a signal: leave the old file and no temporary one
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    *,
    step: int,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename)."""
    save_checkpoint_state(path, model.state_dict(), None if optimizer is None else optimizer.state_dict(),
                          step=step, metadata=metadata)


def save_checkpoint_state(
    path: str | Path,
    model_state: Mapping[str, torch.Tensor],
    optimizer_state: Mapping[str, Any] | None,
    *,
    step: int,
    metadata: dict[str, Any] | None = None,
) -> None:
    """:func:`save_checkpoint` from a model's and an optimiser's ``state_dict`` (what a member of an
    ensemble has without a module or an optimiser of its own)."""
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in model_state.items()
    }
    optim_meta = None
    if optimizer_state is not None:
        sd = optimizer_state
        state_meta: dict[str, dict[str, Any]] = {}
        for idx, entries in sd["state"].items():
            state_meta[str(idx)] = {}
            for k, v in entries.items():
                if isinstance(v, torch.Tensor):
                    tensors[f"optimizer.{idx}.{k}"] = v.detach().cpu().contiguous().clone()
                else:
                    state_meta[str(idx)][k] = v
        optim_meta = {"param_groups": sd["param_groups"], "state": state_meta}
    meta = strict_json({
        "format": _FORMAT,
        "library_version": __version__,
        "step": int(step),
        "optimizer": optim_meta,
        "metadata": metadata or {},
    })
    blob = save(tensors, metadata={"rnnscope": meta, "rnnscope_sha256": _digest(tensors, meta)})
    atomic_write_bytes(Path(path), blob)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint; raise :class:`CheckpointError` if it is missing, damaged, edited
    or not an rnnscope checkpoint."""
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}." if not path.exists() else f"{path} is not a file.")
    data = path.read_bytes()
    damaged = (f"The checkpoint {path} is truncated or corrupted and cannot be read ({{}}). "
               "Restore it from a copy, or start the run again.")
    try:
        header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
        fields = header.get("__metadata__") or {}
    except (ValueError, AttributeError, MemoryError) as exc:
        raise CheckpointError(damaged.format(f"{type(exc).__name__}: {exc}")) from None
    if not isinstance(fields, dict) or "rnnscope" not in fields:
        raise CheckpointError(f"{path} is not an rnnscope checkpoint: it is a safetensors file without rnnscope's "
                              "metadata (written by another tool?).")
    try:
        meta = json.loads(fields["rnnscope"])
    except ValueError as exc:
        raise CheckpointError(damaged.format(f"its metadata is not JSON: {exc}")) from None
    if not isinstance(meta, dict) or meta.get("format") not in (_FORMAT, _FORMAT_TENSORS_ONLY):
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path} is not an rnnscope checkpoint (format {found!r}).")
    try:
        tensors = load(data)
    except Exception as exc:  # safetensors raises several types for truncated or garbled files
        raise CheckpointError(damaged.format(f"{type(exc).__name__}: {exc}")) from None
    if meta["format"] == _FORMAT:
        expected, covered = fields.get("rnnscope_sha256"), fields["rnnscope"]
    else:
        expected, covered = meta.get("sha256"), None
    if not isinstance(expected, str):
        raise CheckpointError(f"The checkpoint {path} has no checksum, so it cannot be verified. Restore it from a "
                              "copy, or start the run again.")
    if _digest(tensors, covered) != expected:
        raise CheckpointError(
            f"The checkpoint {path} is corrupted: its tensors or its metadata (step, settings) do not match the "
            "checksum written with them. Restore it from a copy, or start the run again."
        )
    try:
        return _assemble(tensors, meta)
    except (KeyError, TypeError, ValueError) as exc:  # a format-1 file whose metadata was edited
        raise CheckpointError(f"The checkpoint {path} has malformed metadata ({type(exc).__name__}: {exc}).") from None


def _assemble(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Checkpoint:
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    optimizer_state = None
    om = meta.get("optimizer")
    if om is not None:
        state: dict[int, dict[str, Any]] = {}
        for idx, entries in om["state"].items():
            state[int(idx)] = dict(entries)
        for k, v in tensors.items():
            if k.startswith("optimizer."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        optimizer_state = {"state": state, "param_groups": om["param_groups"]}
    return Checkpoint(model_state, optimizer_state, int(meta["step"]), dict(meta.get("metadata") or {}))
