"""Run configuration: a frozen, validated description of one training run, read from YAML.

Precedence, lowest first: library defaults, the task's recommended settings, the YAML file, then
command-line options. The resolved configuration is written to ``config.yaml`` in the run folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re

import yaml

from ._validation import check_int
from .errors import ConfigError
from .training._config import TrainingConfig

__all__ = ["ModelConfig", "RunConfig", "load_config_file", "build_run_config"]



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

@dataclass(frozen=True)
class ModelConfig:
    """The RateRNN settings of a run (input and output sizes come from the task).

    Every field is the RateRNN keyword of the same name; ``dt=None`` takes the task's dt.
    """

    hidden_size: int = 64
    rank: int | None = None
    tau: float = 100.0
    dt: float | None = None
    time: str = "continuous"
    nonlinearity: str = "tanh"
    g: float = 1.0
    bulk_g: float = 0.0
    dale: float | None = None
    sparsity: float = 0.0
    autapses: bool = True
    bias: bool = True
    readout: str = "rates"
    noise_std: float = 0.0
    input_noise_std: float = 0.0
    learn_initial_state: bool = False
    frozen: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_size", check_int("ModelConfig", "hidden_size", self.hidden_size, low=1))
        if isinstance(self.frozen, str):
            object.__setattr__(self, "frozen", (self.frozen,))
        object.__setattr__(self, "frozen", tuple(self.frozen))

    def build(self, input_size: int, output_size: int, task_dt: float, seed: int, device: str | None = None):
        """The RateRNN this configuration describes (validated by RateRNN itself)."""
        from .models import RateRNN

        kwargs = dataclasses.asdict(self)
        dt = kwargs.pop("dt")
        if dt is not None and self.time == "continuous" and abs(dt - task_dt) > 1e-12:
            raise ConfigError(
                f"model.dt ({dt:g} ms) differs from the task's dt ({task_dt:g} ms); set only task_params.dt."
            )
        hidden = kwargs.pop("hidden_size")
        return RateRNN(input_size, hidden, output_size, dt=task_dt if dt is None else dt, seed=seed,
                       device=device, **kwargs)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run.

    Attributes:
        task: registry name of the task.
        task_params: parameters of the task (see ``rnnscope tasks``).
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

    def to_dict(self) -> dict[str, Any]:
        model = dataclasses.asdict(self.model)
        model["frozen"] = list(model["frozen"])
        return {
            "task": self.task,
            "task_params": dict(self.task_params),
            "model": model,
            "training": self.training.to_dict(),
            "seed": self.seed,
            "device": self.device,
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "the configuration") -> RunConfig:
        return build_run_config(data, source=source)

    def make_task(self):
        from .tasks import make

        return make(self.task, **self.task_params)


_SECTIONS = {"task", "task_params", "model", "training", "seed", "device"}


def _check_keys(section: str, given: Mapping[str, Any], cls: type, source: str) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)} in {source}. "
            f"Accepted keys of {section!r}: {', '.join(sorted(names))}."
        )


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def build_run_config(data: Mapping[str, Any], *, source: str = "the configuration") -> RunConfig:
    """A validated :class:`RunConfig` from nested plain data (as read from YAML).

    The task's recommended model and training settings fill in what ``data`` leaves out.
    """
    from .tasks import make, task_class

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
    cls = task_class(data["task"])
    rec = getattr(cls, "recommended", {}) or {}
    model_d = _merge(dict(rec.get("model", {})), data.get("model") or {})
    train_d = _merge(dict(rec.get("training", {})), data.get("training") or {})
    _check_keys("model", model_d, ModelConfig, source)
    _check_keys("training", train_d, TrainingConfig, source)
    seed = check_int("RunConfig", "seed", data.get("seed", 0), low=0)
    train_d.setdefault("seed", seed)
    task = make(data["task"], **dict(data.get("task_params") or {}))
    device = data.get("device", "cpu")
    if not isinstance(device, str):
        raise ConfigError(f"The 'device' parameter of RunConfig must be a string such as 'cpu' or 'cuda'. Got {device!r} instead.")
    try:
        model = ModelConfig(**model_d)
        training = TrainingConfig(**train_d)
    except TypeError as exc:  # pragma: no cover - keys are checked above
        raise ConfigError(f"Invalid configuration in {source}: {exc}") from None
    return RunConfig(task=data["task"], task_params=task.params(), model=model, training=training,
                     seed=seed, device=device)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML run configuration into plain data; raise ConfigError for malformed YAML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Configuration file {path} does not exist.")
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping (task:, model:, training:, ...). Got {type(data).__name__}.")
    return data
