"""The task registry: ``make(name, **params)`` and ``available()``.

Three kinds of tasks are found by name:

- the built-in tasks (their modules are imported on first use);
- tasks of installed packages, declared as entry points of the group ``rnnscope.tasks``
  (``my_task = "my_package.tasks:MyTask"`` under ``[project.entry-points."rnnscope.tasks"]`` in the
  package's ``pyproject.toml``): listed by :func:`available` without importing anything, each loaded
  when it is first used;
- tasks registered with :func:`register`, for example by a module of your own that
  :func:`load_tasks_module` imports (``rnnscope train --tasks-module my_tasks.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._base import AbstractTask

__all__ = ["register", "available", "task_class", "make", "load_tasks_module", "task_module_of"]

#: The entry-point group under which installed packages declare their tasks.
ENTRY_POINT_GROUP = "rnnscope.tasks"

# name -> (module, class). Modules are imported on first use.
_BUILTIN: dict[str, tuple[str, str]] = {
    "perceptual_decision": ("rnnscope.tasks.perceptual_decision", "PerceptualDecision"),
    "context_decision": ("rnnscope.tasks.context_decision", "ContextDecision"),
    "flipflop": ("rnnscope.tasks.flipflop", "FlipFlop"),
    "measure_set_go": ("rnnscope.tasks.measure_set_go", "MeasureSetGo"),
    "cue_set_go": ("rnnscope.tasks.cue_set_go", "CueSetGo"),
    "path_integration": ("rnnscope.tasks.path_integration", "PathIntegration"),
    "place_cell_integration": ("rnnscope.tasks.place_cell_integration", "PlaceCellIntegration"),
    "parity": ("rnnscope.tasks.formal_language", "Parity"),
    **{f"tomita{k}": ("rnnscope.tasks.formal_language", f"Tomita{k}") for k in range(1, 8)},
    "multitask": ("rnnscope.tasks.multitask", "MultiTask"),
    **{rule: ("rnnscope.tasks.multitask", f"Yang_{rule}") for rule in (
        "fdgo", "reactgo", "delaygo", "fdanti", "reactanti", "delayanti", "dm1", "dm2", "contextdm1", "contextdm2",
        "multidm", "delaydm1", "delaydm2", "contextdelaydm1", "contextdelaydm2", "multidelaydm", "dmsgo",
        "dmsnogo", "dmcgo", "dmcnogo")},
}
_USER: dict[str, type[AbstractTask]] = {}
_FROM_ENTRY_POINTS: dict[str, type[AbstractTask]] = {}  # entry points loaded so far
_LOADED: dict[str, list[str]] = {}  # tasks module (canonical form) -> the names it registered


def register(cls: type[AbstractTask]) -> type[AbstractTask]:
    """Register a user task class under ``cls.name`` so that ``make`` and the CLI find it."""
    if not (isinstance(cls, type) and issubclass(cls, AbstractTask)):
        raise ConfigError(f"register() takes an AbstractTask subclass. Got {cls!r} instead.")
    if cls.name in _BUILTIN:
        raise ConfigError(f"The task name {cls.name!r} is taken by a built-in task.")
    _USER[cls.name] = cls
    return cls


@functools.cache
def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The entry points of the group ``rnnscope.tasks`` of the installed packages, read once (a
    built-in name wins over an entry point of the same name)."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in found if ep.name not in _BUILTIN}


def available() -> list[str]:
    """Names of every registered task, sorted: built-in, from installed packages' entry points, and
    registered with :func:`register`."""
    return sorted({*_BUILTIN, *_entry_points(), *_USER})


def task_class(name: str) -> type[AbstractTask]:
    """The class registered under ``name``."""
    if name in _USER:
        return _USER[name]
    if name in _BUILTIN:
        module, cls = _BUILTIN[name]
        return getattr(importlib.import_module(module), cls)
    if name in _entry_points():
        return _load_entry_point(name)
    raise ConfigError(
        f"Unknown task {name!r}. Available tasks: {', '.join(available())}. A task of your own is found "
        f"once the module that registers it is loaded: --tasks-module FILE on the command line, "
        f"rnnscope.tasks.load_tasks_module (or an import) in Python, or an entry point of the group "
        f"{ENTRY_POINT_GROUP!r} of an installed package."
    )


def _load_entry_point(name: str) -> type[AbstractTask]:
    if name not in _FROM_ENTRY_POINTS:
        ep = _entry_points()[name]
        try:
            cls = ep.load()
        except Exception as exc:  # the package's own import failed: say which entry point
            raise ConfigError(f"The task {name!r} declared by the entry point {ep.value!r} (group "
                              f"{ENTRY_POINT_GROUP!r}) cannot be loaded: {type(exc).__name__}: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, AbstractTask)) or getattr(cls, "name", None) != name:
            raise ConfigError(f"The entry point {name} = {ep.value!r} (group {ENTRY_POINT_GROUP!r}) must name an "
                              f"AbstractTask subclass whose name is {name!r}. Got {cls!r} instead.")
        _FROM_ENTRY_POINTS[name] = cls
    return _FROM_ENTRY_POINTS[name]


def make(name: str, **params: Any) -> AbstractTask:
    """Build the task registered under ``name`` with the given parameters.

    >>> task = make("perceptual_decision", dt=20.0)
    >>> batch = task.sample(16, seed=0)
    """
    cls = task_class(name)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ConfigError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))} for task {name!r}. "
            f"Accepted parameters: {', '.join(sorted(fields))}."
        )
    return cls(**params)


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def load_tasks_module(spec: str, *, option: str = "tasks_module") -> tuple[str, list[str]]:
    """Import the module that defines and registers (:func:`register`) tasks of your own, so that
    :func:`make` and the command line find them; returns its canonical form and the names of its tasks.

    Args:
        spec: a Python file (``my_tasks.py``, ``path/to/tasks.py``) or the name of an importable module
            (``my_package.tasks``).
        option: the name of the setting ``spec`` came from, used in error messages
            (``"--tasks-module"`` on the command line).

    Returns:
        ``(canonical, names)``: the absolute path of a file (so that a run folder records where to
        import it from again) or the module name, and the tasks the module registers.

    A module is imported once per process (a file already imported, by this function or by an
    ``import`` of its own, is not run again). Raises :class:`~rnnscope.errors.ConfigError` for a file
    that does not exist, a module that cannot be imported, and one that registers no task.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"The {option!r} setting must be a Python file (my_tasks.py) or a module name "
                          f"(my_package.tasks). Got {spec!r} instead.")
    if _is_path(spec):
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"The {option} file {spec} " + ("is not a file." if path.exists() else "does not exist."))
        canonical = str(path)
    else:
        canonical = spec
    if canonical in _LOADED:
        return canonical, list(_LOADED[canonical])
    before = dict(_USER)
    module = _import_path(path, option) if _is_path(spec) else _import_name(spec, option)
    names = sorted({n for n, cls in _USER.items() if before.get(n) is not cls}
                   | {n for n, cls in _USER.items() if cls.__module__ == module.__name__})
    if not names:
        raise ConfigError(f"The {option} module {spec} registers no task: define an AbstractTask subclass in it "
                          f"and call rnnscope.tasks.register(MyTask) (or decorate the class with @register).")
    _LOADED[canonical] = names
    return canonical, list(names)


def _import_name(name: str, option: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise ConfigError(f"The {option} module {name!r} cannot be found (not installed, and not on "
                              f"sys.path). Give the path of its file, e.g. {option} tasks.py.") from None
        raise ConfigError(f"Importing the {option} module {name!r} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # the user's module raised: say where
        raise ConfigError(f"Importing the {option} module {name!r} failed: {type(exc).__name__}: {exc}") from exc


def _import_path(path: Path, option: str):
    for module in list(sys.modules.values()):  # already imported (e.g. by the user's own import)?
        file = getattr(module, "__file__", None)
        if file is not None and Path(file).resolve() == path:
            return module
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"_rnnscope_tasks_{path.stem if path.stem.isidentifier() else 'module'}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"The {option} file {path} cannot be imported as Python (give a .py file).")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module raised: say where
        del sys.modules[name]
        raise ConfigError(f"Importing the {option} file {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def task_module_of(task: AbstractTask) -> str | None:
    """Where a new process finds the class of ``task`` again: None for a built-in task or one of an
    installed package's entry points (found by name), the file of the module that defines it for a
    task registered with :func:`register` (or the module name it was loaded by); None also for a
    task whose class is defined in the script being run (``__main__``), which a new process cannot
    import without running it again (the command line then needs ``--tasks-module``).

    Raises ConfigError when the class is not registered under its name.
    """
    cls, name = type(task), task.name
    try:
        found = task_class(name)
    except ConfigError:
        found = None
    if found is not cls:
        raise ConfigError(f"The task class {cls.__qualname__} is not registered under its name {name!r} "
                          f"(rnnscope.tasks.register({cls.__name__})).")
    if name in _BUILTIN or name in _FROM_ENTRY_POINTS:
        return None
    for canonical, names in _LOADED.items():
        if name in names:
            return canonical
    file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if cls.__module__ == "__main__" or file is None:
        return None
    return str(Path(file).resolve())
