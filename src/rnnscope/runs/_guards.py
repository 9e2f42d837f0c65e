"""What keeps a folder of results whole: output paths checked before the work, one writer at a time
(an exclusive lock), and training that stops cleanly on Ctrl-C or SIGTERM.

The lock is ``flock`` on the file ``.lock`` in the folder: the operating system releases it when
the process ends, however it ends, so a run killed with ``kill -9`` leaves no stale lock behind.
(Where Python has no ``fcntl``, i.e. on Windows, folders are not locked.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import CheckpointError, ConfigError
from ..training import Trainer

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["check_output_folder", "folder_lock", "folder_locks", "stop_on_signals", "LOCK_NAME"]

LOCK_NAME = ".lock"
_HELD: set[Path] = set()  # folders this process holds the lock of: taking it again is a no-op


def check_output_folder(path: str | Path, name: str) -> Path:
    """``path`` if results can be written there, else a ConfigError naming the argument ``name``:
    checked before the work, so that a bad path costs nothing (a file where a folder should be, a
    name the file system refuses as too long, a read-only folder)."""
    path = Path(path)
    shown = str(path) if len(str(path)) <= 100 else str(path)[:97] + "..."
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"The {name} folder {shown} is a file; give a folder (new or existing).")
        existing = path
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise ConfigError(f"The {name} folder {shown} cannot be made: {existing} is a file.")
        limit = os.pathconf(existing, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
        if any(len(os.fsencode(part)) > limit for part in path.parts):
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ConfigError(f"The {name} folder {shown} cannot be written: {exc.strerror}.") from None
    return path


@contextlib.contextmanager
def folder_lock(path: Path) -> Iterator[None]:
    """Make the folder ``path`` if needed and hold an exclusive lock on it while the block runs; a
    second writer gets a CheckpointError at once instead of mixing its files with ours. If the block
    fails and the folder it made holds nothing but the lock, it is removed again. A folder whose
    lock this process already holds (a sweep's job training its runs) is entered without locking
    it again."""
    made = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    key = path.resolve()
    if key in _HELD:
        yield
        return
    with open(path / LOCK_NAME, "a+", encoding="utf-8") as f:
        holder = _try_lock(f)
        if holder is not None:
            raise CheckpointError(
                f"{path} is in use by another rnnscope process{f' (pid {holder})' if holder else ''}: two "
                "writers would mix their results. Wait until it ends, or write elsewhere."
            ) from None
        _HELD.add(key)
        try:
            yield  # closing the file (below) releases the lock
        except BaseException:
            if made and [p.name for p in path.iterdir()] == [LOCK_NAME]:
                shutil.rmtree(path, ignore_errors=True)  # still ours: the lock is held
            raise
        finally:
            _HELD.discard(key)


@contextlib.contextmanager
def folder_locks(paths: list[Path]) -> Iterator[list[Path]]:
    """Lock each folder of ``paths`` that no other process holds; yields those this process now holds
    (the others are left to whoever holds them). Folders already held by this process count as held."""
    with contextlib.ExitStack() as stack:
        held = []
        for path in paths:
            try:
                stack.enter_context(folder_lock(path))
            except CheckpointError:
                continue
            held.append(path)
        yield held


def _try_lock(f) -> str | None:  # noqa: ANN001 - an open text file
    """Take the lock of the open lock file ``f`` (writing our pid into it); None when taken, else the
    pid its holder wrote ("" if unknown)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # the holder may have made the folder: leave it as it is
        f.seek(0)
        return f.read().strip()
    f.truncate(0)
    f.write(str(os.getpid()))
    f.flush()
    return None


@contextlib.contextmanager
def stop_on_signals(trainer: Trainer) -> Iterator[None]:
    """While the block runs, Ctrl-C (SIGINT) and SIGTERM (what SLURM sends before it kills a job) ask
    ``trainer`` to stop after the step in progress (:meth:`~rnnscope.training.Trainer.interrupt`):
    it saves a checkpoint of that step and raises TrainingInterruptedError. A second signal of the
    same kind acts as it would without this block."""
    if threading.current_thread() is not threading.main_thread():  # handlers live in the main thread
        yield
        return
    kinds = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in kinds}

    def handler(signum: int, frame: object) -> None:
        trainer.interrupt(signal.Signals(signum).name)
        signal.signal(signum, _restorable(previous[signum]))

    for s in kinds:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, _restorable(h))


def _restorable(handler: Callable | int | None) -> Callable | int:
    return signal.SIG_DFL if handler is None else handler
