"""Checkpoints: one safetensors file, written atomically, verified on load.

The file holds the model's weights (``model.*``), the optimiser's tensors (``optimizer.*``) and, in
the safetensors metadata, JSON with the step, the optimiser's other state, the run configuration,
the library version and a SHA-256 of all tensors, so a corrupted file is detected, not loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..errors import CheckpointError

__all__ = ["Checkpoint", "save_checkpoint", "save_checkpoint_state", "load_checkpoint", "atomic_write_text"]

_FORMAT = "rnnscope-checkpoint-1"


@dataclass(frozen=True)
class Checkpoint:
    """The content of a checkpoint file."""

    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    step: int
    metadata: dict[str, Any]


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key]
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


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
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
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
    meta = {
        "format": _FORMAT,
        "library_version": __version__,
        "step": int(step),
        "optimizer": optim_meta,
        "sha256": _digest(tensors),
        "metadata": metadata or {},
    }
    blob = save(tensors, metadata={"rnnscope": json.dumps(meta)})
    atomic_write_bytes(Path(path), blob)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint; raise :class:`CheckpointError` if it is missing or damaged."""
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}.")
    data = path.read_bytes()
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
        meta = json.loads(header["__metadata__"]["rnnscope"])
    except Exception as exc:  # safetensors raises several types for truncated or garbled files
        raise CheckpointError(
            f"The checkpoint {path} is truncated or corrupted and cannot be read ({type(exc).__name__}: {exc}). "
            "Restore it from a copy, or start the run again."
        ) from None
    if meta.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not an rnnscope checkpoint (format {meta.get('format')!r}).")
    if _digest(tensors) != meta["sha256"]:
        raise CheckpointError(
            f"The checkpoint {path} is corrupted: its tensors do not match the checksum written with them. "
            "Restore it from a copy, or start the run again."
        )
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
    return Checkpoint(model_state, optimizer_state, int(meta["step"]), meta.get("metadata", {}))
