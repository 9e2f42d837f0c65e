"""Run configuration: a frozen, validated description of one training run, read from YAML.

Precedence, lowest first: library defaults, the task's recommended settings, the YAML file, then
command-line options. The resolved configuration is written to ``config.yaml`` in the run folder.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._validation import check_int, check_seed
from ..errors import ConfigError
from ..models import GRU, LSTM, AbstractRNN, RateRNN
from ..tasks import AbstractTask, available, load_tasks_module, make, task_class
from ..training import TrainingConfig

__all__ = ["ModelConfig", "RunConfig", "MODEL_KINDS", "model_parameters", "load_config_file", "build_run_config",
           "merge_config", "yaml_load"]


class YamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-4`` and ``3E5`` as floats (YAML 1.1 wants a dot)."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def yaml_load(text: str):
    """Parse YAML text with :class:`YamlLoader`."""
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 (a SafeLoader subclass)


#: The model kinds a run can train, by the name the run config's ``model.kind`` gives (each model's
#: own ``config_kind``, which a trainer built in Python writes into its run folder).
MODEL_KINDS: dict[str, type[AbstractRNN]] = {cls.config_kind: cls for cls in (RateRNN, GRU, LSTM)}

#: Constructor arguments a run fills in itself (sizes from the task, seed and device from the run).
_RUN_LEVEL = frozenset({"input_size", "output_size", "seed", "device", "dtype"})
#: A run's default for constructor arguments without one.
_RUN_DEFAULTS = {"hidden_size": 64}


def model_parameters(kind: str) -> dict[str, Any]:
    """The settings of model ``kind`` a run config may give, with their defaults, read from the
    model's own constructor signature (run-level arguments and tensors excluded).

    >>> model_parameters("rate")["tau"]
    100.0
    """
    cls = _model_class(kind, "model_parameters")
    out: dict[str, Any] = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in _RUN_LEVEL or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if str(p.annotation).startswith("torch.Tensor"):  # not expressible in YAML (a connectivity mask)
            continue
        default = _RUN_DEFAULTS.get(name, p.default)
        if default is inspect.Parameter.empty:
            raise ConfigError(f"The constructor of {cls.__name__} has a required argument {name!r} without a "
                              f"run default; give it a default.")  # pragma: no cover - a library bug
        out[name] = list(default) if isinstance(default, tuple) else default
    return out


def _model_class(kind: Any, owner: str) -> type[AbstractRNN]:
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise ConfigError(f"The 'kind' parameter of {owner} must be one of {', '.join(map(repr, MODEL_KINDS))}. "
                          f"Got {kind!r} instead.")
    return MODEL_KINDS[kind]


@dataclass(frozen=True)
class ModelConfig:
    """The model of a run: its ``kind`` and the keyword arguments of that model's constructor.

    The accepted keys are the model's own constructor arguments (:func:`model_parameters`), so the
    run config never repeats a model's fields; the input and output sizes come from the task, the
    seed and device from the run, and ``dt=None`` takes the task's dt.

    Attributes:
        kind: ``"rate"`` (:class:`~rnnscope.models.RateRNN`), ``"gru"`` or ``"lstm"``.
        params: every constructor argument, defaults filled in.
    """

    kind: str = "rate"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        defaults = model_parameters(self.kind)
        unknown = sorted(set(self.params) - set(defaults))
        if unknown:
            raise ConfigError(
                f"Unknown key(s) {', '.join(f'model.{k}' for k in unknown)}. Accepted keys of 'model' (a "
                f"{self.kind!r} model): kind, {', '.join(sorted(defaults))}."
            )
        params = {**defaults, **self.params}
        if "dt" in params and params["dt"] == defaults.get("dt"):
            params["dt"] = self.params.get("dt")  # None unless given: the task's dt
        params["hidden_size"] = check_int("ModelConfig", "hidden_size", params["hidden_size"], low=1)
        object.__setattr__(self, "params", params)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """From the ``model:`` section of a run config (``kind`` plus constructor arguments)."""
        data = dict(data)
        return cls(kind=data.pop("kind", "rate"), params=data)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}}

    @property
    def hidden_size(self) -> int:
        return int(self.params["hidden_size"])

    def get(self, key: str, default: Any = None) -> Any:
        """One setting, or ``default`` when this kind of model has no such setting."""
        return self.params.get(key, default)

    def build(self, input_size: int, output_size: int, task_dt: float, seed: int,
              device: str | None = None) -> AbstractRNN:
        """The model this configuration describes (validated by the model's own constructor)."""
        cls = MODEL_KINDS[self.kind]
        kwargs = dict(self.params)
        dt = kwargs.pop("dt", None)
        if dt is not None and kwargs.get("time", "continuous") == "continuous" and abs(dt - task_dt) > 1e-12:
            raise ConfigError(
                f"model.dt ({dt:g} ms) differs from the task's dt ({task_dt:g} ms); set only task_params.dt."
            )
        hidden = kwargs.pop("hidden_size")
        return cls(input_size, hidden, output_size, dt=task_dt if dt is None else dt, seed=seed, device=device,
                   **kwargs)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run.

    Attributes:
        task: registry name of the task.
        task_params: parameters of the task (see ``rnnscope tasks``).
        tasks_module: for a task of your own, the Python file (an absolute path) or module that
            registers it (``rnnscope train --tasks-module``): imported again wherever the run is read,
            unless the task is already known there; None for built-in and installed tasks.
        model: a :class:`ModelConfig`.
        training: a :class:`~rnnscope.training.TrainingConfig`.
        seed: seeds the initial weights and (through ``training.seed``) the batches and noise.
        device: ``"cpu"``, ``"cuda"``, ...
    """

    task: str
    task_params: Mapping[str, Any] = field(default_factory=dict)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    seed: int = 0
    device: str = "cpu"
    tasks_module: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            **({} if self.tasks_module is None else {"tasks_module": self.tasks_module}),
            "task_params": dict(self.task_params),
            "model": self.model.to_dict(),
            "training": self.training.to_dict(),
            "seed": self.seed,
            "device": self.device,
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "the configuration") -> RunConfig:
        return build_run_config(data, source=source)

    def make_task(self) -> AbstractTask:
        return make(self.task, **self.task_params)


_SECTIONS = {"task", "tasks_module", "task_params", "model", "training", "seed", "device"}


def _check_keys(section: str, given: Mapping[str, Any], cls: type, source: str) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)} in {source}. "
            f"Accepted keys of {section!r}: {', '.join(sorted(names))}."
        )


def merge_config(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``top``, section by section (nested mappings are merged, not replaced)."""
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge_config(dict(out[k]), v)
        else:
            out[k] = v
    return out


def build_run_config(data: Mapping[str, Any], *, source: str = "the configuration") -> RunConfig:
    """A validated :class:`RunConfig` from nested plain data (as read from YAML).

    The task's recommended model and training settings fill in what ``data`` leaves out (recommended
    model settings that the chosen kind of model does not have are skipped).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source} must be a mapping of sections {sorted(_SECTIONS)}. Got {type(data).__name__}.")
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ConfigError(f"Unknown key(s) {', '.join(unknown)} in {source}. Accepted keys: {', '.join(sorted(_SECTIONS))}.")
    if "task" not in data or not isinstance(data["task"], str):
        raise ConfigError(f"{source} must name a task (task: NAME). Got {data.get('task')!r}.")
    for section in ("task_params", "model", "training"):
        if data.get(section) is not None and not isinstance(data[section], Mapping):
            raise ConfigError(f"The {section!r} section of {source} must be a mapping. Got {data[section]!r}.")
    tasks_module = _tasks_module(data, source)
    cls = task_class(data["task"])
    rec = getattr(cls, "recommended", {}) or {}
    given_model = dict(data.get("model") or {})
    kind = given_model.get("kind", "rate")
    _model_class(kind, f"the model section of {source}")
    accepted = model_parameters(kind)
    model_d = merge_config({k: v for k, v in rec.get("model", {}).items() if k in accepted}, given_model)
    train_d = merge_config(dict(rec.get("training", {})), data.get("training") or {})
    _check_keys("training", train_d, TrainingConfig, source)
    seed = check_seed("RunConfig", "seed", data.get("seed", 0))
    train_d.setdefault("seed", seed)
    task = make(data["task"], **dict(data.get("task_params") or {}))
    device = data.get("device", "cpu")
    if not isinstance(device, str):
        raise ConfigError(f"The 'device' parameter of RunConfig must be a string such as 'cpu' or 'cuda'. Got {device!r} instead.")
    model = ModelConfig.from_dict(model_d)
    try:
        training = TrainingConfig(**train_d)
    except TypeError as exc:  # pragma: no cover - keys are checked above
        raise ConfigError(f"Invalid configuration in {source}: {exc}") from None
    return RunConfig(task=data["task"], task_params=task.params(), model=model, training=training,
                     seed=seed, device=device, tasks_module=tasks_module)


def _tasks_module(data: Mapping[str, Any], source: str) -> str | None:
    """The ``tasks_module`` of ``data``, imported (once per process), in its canonical form (a file as an
    absolute path); None when there is none. A module that cannot be imported is no matter when the
    task is known without it (imported in Python, or given again with --tasks-module after a move)."""
    spec = data.get("tasks_module")
    if spec is None:
        return None
    option = "--tasks-module" if source == "the command line" else f"tasks_module of {source}"
    try:
        canonical, _names = load_tasks_module(spec, option=option)
    except ConfigError:
        if isinstance(spec, str) and data["task"] in available():
            return spec
        raise
    return canonical


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML run configuration into plain data; raise ConfigError for malformed YAML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Configuration file {path} " + ("is not a file." if path.exists() else "does not exist."))
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping (task:, model:, training:, ...). Got {type(data).__name__}.")
    return data
