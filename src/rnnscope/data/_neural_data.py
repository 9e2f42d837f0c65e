"""NeuralData: recorded activity on trials, with the stimuli given and the task variables.

One frozen, validated container with the library's axis order (trials, time, neurons). Every
constructor ends in the same validation, so bad data (mismatched shapes, NaNs, empty trials,
non-uniform time bins) is refused where it enters, with a message that says where the problem is.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_seed
from ..analysis.similarity import ActivitySource
from ..analysis.state_space import condition_average, condition_groups, gaussian_smooth
from ..errors import CheckpointError, ConfigError, ShapeError

__all__ = ["NeuralData"]

_FORMAT = "rnnscope.NeuralData/1"
_OWNER = "NeuralData"


def _to_tensor(name: str, value: Any, *, floating: bool = True) -> torch.Tensor:
    """``value`` (numpy array, tensor, sequence) as a CPU tensor; integer/bool data become float32."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
    else:
        arr = np.asarray(value)
        if arr.dtype.kind in "OUS":
            raise ConfigError(f"The {name!r} parameter of {_OWNER} must be numeric. Got an array of dtype {arr.dtype}.")
        t = torch.from_numpy(np.array(arr, copy=True))
    if t.is_complex():  # converting would drop the imaginary part without a word
        raise ConfigError(f"The {name!r} parameter of {_OWNER} must be real. Got complex values (dtype {t.dtype}); "
                          "pass their magnitude or real part explicitly.")
    if floating and not t.is_floating_point():
        t = t.to(torch.float32)
    return t


def _encode_condition(name: str, value: Any) -> tuple[torch.Tensor, tuple[str, ...] | None]:
    """A condition as a tensor; text labels become integer codes (sorted labels returned)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu(), None
    arr = np.asarray(value)
    if arr.dtype.kind in "OUS":
        if arr.ndim != 1:
            raise ShapeError(f"Text condition {name!r} given to {_OWNER} must be one label per trial, shape "
                             f"(trials,). Got shape {arr.shape} instead.")
        labels = [str(v.decode() if isinstance(v, bytes) else v) for v in arr.tolist()]
        uniq = sorted(set(labels))
        index = {lab: i for i, lab in enumerate(uniq)}
        return torch.tensor([index[lab] for lab in labels], dtype=torch.long), tuple(uniq)
    t = torch.from_numpy(np.array(arr, copy=True))
    if t.dtype == torch.bool:
        t = t.long()
    return t, None


def _where(mask: torch.Tensor, limit: int = 3) -> str:
    """'trial 3, time bin 7, neuron 2; ...' for the first few True entries of a (trials, time, neurons) mask."""
    idx = mask.nonzero()[:limit].tolist()
    return "; ".join(f"trial {i}, time bin {t}, neuron {n}" for i, t, n in idx)


@dataclass(frozen=True, eq=False)
class NeuralData(ActivitySource):
    """Recorded activity on trials, the inputs (stimuli) each trial received and its task variables.

    Build one with :meth:`from_arrays`, :meth:`from_xarray`, :meth:`from_nwb` or :meth:`load`; the
    constructor validates everything (and is what they all call).

    Bins past a trial's length are padding: they may hold NaN on entry and are stored as 0 (every
    analysis masks them with :meth:`valid_mask`). Inside a trial, every value must be finite.

    Attributes:
        activity: firing rates, spike counts or any other per-neuron signal, float.
        times: time of each bin in ms (e.g. the bin centres relative to the trial's alignment event),
            uniformly spaced.
        inputs: the stimuli given on each trial, in the time bins of ``activity`` (0 columns if none).
        conditions: per-trial task variables by name. Text labels (e.g. ``"motion"``/``"color"``)
            are stored as integer codes into ``condition_labels[name]`` (sorted labels).
        lengths: number of valid bins of each trial (all bins if None).
        neuron_names, input_names: optional names, one per neuron / input.
        condition_labels: for each text condition, the label of each integer code.

    Shape:
        - activity: (trials, time, neurons)
        - times: (time,)
        - inputs: (trials, time, n_inputs)
        - conditions[name]: (trials,) or (trials, m)
        - lengths: (trials,)

    Example:
        >>> data = NeuralData.from_arrays(rates, times=np.arange(50) * 20.0, inputs=stim,
        ...                               conditions={"context": ctx})
        >>> train, test = data.split(0.2, seed=0, stratify="context")
    """

    activity: torch.Tensor
    times: torch.Tensor
    inputs: torch.Tensor
    conditions: Mapping[str, torch.Tensor] = field(default_factory=dict)
    lengths: torch.Tensor | None = None
    neuron_names: tuple[str, ...] | None = None
    input_names: tuple[str, ...] | None = None
    condition_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        act = _to_tensor("activity", self.activity)
        if act.ndim != 3:
            raise ShapeError(f"The 'activity' parameter of {_OWNER} must have shape (trials, time, neurons). "
                             f"Got shape {tuple(act.shape)} instead.")
        B, T, N = act.shape
        if B < 1 or T < 2 or N < 1:
            raise ShapeError(f"The 'activity' parameter of {_OWNER} needs at least 1 trial, 2 time bins and 1 neuron. "
                             f"Got shape {tuple(act.shape)} instead.")
        times = _to_tensor("times", self.times).to(torch.float64)
        if times.shape != (T,):
            raise ShapeError(f"The 'times' parameter of {_OWNER} must have shape (time,) = ({T},), one time per bin "
                             f"of 'activity' {tuple(act.shape)}. Got shape {tuple(times.shape)} instead.")
        if not bool(torch.isfinite(times).all()):
            raise ConfigError(f"The 'times' parameter of {_OWNER} must be finite. Got {times.tolist()[:5]}... instead.")
        steps = times.diff()
        dt = float(steps[0])
        if dt <= 0 or bool(((steps - dt).abs() > 1e-6 * max(abs(dt), 1e-12) + 1e-9).any()):
            bad = int(((steps - dt).abs() > 1e-6 * max(abs(dt), 1e-12) + 1e-9).nonzero()[0, 0]) if dt > 0 else 0
            raise ConfigError(f"The 'times' parameter of {_OWNER} must be increasing in uniform bins (one dt). Got a "
                              f"step of {float(steps[bad]):g} ms between bins {bad} and {bad + 1}, where the first step "
                              f"is {dt:g} ms; re-bin the data first.")
        # lengths and the valid mask
        if self.lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long)
        else:
            lengths = _to_tensor("lengths", self.lengths, floating=False)
            if lengths.is_floating_point():
                if not bool((lengths == lengths.round()).all()):
                    raise ConfigError(f"The 'lengths' parameter of {_OWNER} must hold whole bin counts. "
                                      f"Got {lengths.tolist()[:5]}... instead.")
            lengths = lengths.long()
            if lengths.shape != (B,):
                raise ShapeError(f"The 'lengths' parameter of {_OWNER} must have shape (trials,) = ({B},). "
                                 f"Got shape {tuple(lengths.shape)} instead.")
            if bool((lengths > T).any()) or bool((lengths < 0).any()):
                i = int(((lengths > T) | (lengths < 0)).nonzero()[0, 0])
                raise ConfigError(f"The 'lengths' parameter of {_OWNER} must lie in [1, {T}] (the number of time "
                                  f"bins). Got {int(lengths[i])} for trial {i}.")
        if bool((lengths == 0).any()):
            i = (lengths == 0).nonzero()[:, 0].tolist()
            raise ConfigError(f"{_OWNER} got empty trials (length 0): trial(s) {i[:10]}; drop them first.")
        valid = torch.arange(T) < lengths[:, None]
        vmask = valid[..., None].expand(B, T, N)
        bad = ~torch.isfinite(act) & vmask
        if bool(bad.any()):
            empty = [i for i in range(B) if bool(torch.isnan(act[i, : int(lengths[i])]).all())]
            if empty:
                raise ConfigError(f"{_OWNER} got empty trials (all values NaN): trial(s) {empty[:10]}; drop them first.")
            per_neuron = bad.any(dim=(0, 1)).nonzero()[:, 0].tolist()
            raise ConfigError(f"The 'activity' parameter of {_OWNER} must be finite inside each trial. Got "
                              f"{int(bad.sum())} NaN or infinite value(s), first at {_where(bad)} (neurons "
                              f"{per_neuron[:10]}); drop or interpolate them, or shorten the trials with 'lengths'.")
        act = torch.where(vmask, act, torch.zeros((), dtype=act.dtype))
        # inputs
        if self.inputs is None:
            inputs = act.new_zeros(B, T, 0)
        else:
            inputs = _to_tensor("inputs", self.inputs).to(act.dtype)
            if inputs.ndim == 2 and inputs.shape[:2] == (B, T):
                inputs = inputs[..., None]
            if inputs.ndim != 3 or inputs.shape[:2] != (B, T):
                raise ShapeError(f"The 'inputs' parameter of {_OWNER} must have shape (trials, time, n_inputs) with "
                                 f"trials and time of 'activity' ({B}, {T}). Got shape {tuple(inputs.shape)} instead.")
            ibad = ~torch.isfinite(inputs) & valid[..., None]
            if bool(ibad.any()):
                raise ConfigError(f"The 'inputs' parameter of {_OWNER} must be finite inside each trial. Got "
                                  f"{int(ibad.sum())} NaN or infinite value(s), first at "
                                  f"{_where(ibad).replace('neuron', 'input')}.")
            inputs = torch.where(valid[..., None], inputs, torch.zeros((), dtype=inputs.dtype))
        # conditions
        if not isinstance(self.conditions, Mapping):
            raise ConfigError(f"The 'conditions' parameter of {_OWNER} must be a mapping name -> (trials,) values. "
                              f"Got {type(self.conditions).__name__} instead.")
        labels = dict(self.condition_labels or {})
        conds: dict[str, torch.Tensor] = {}
        for name, value in self.conditions.items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"Condition names of {_OWNER} must be non-empty strings. Got {name!r} instead.")
            t, lab = _encode_condition(name, value)
            if lab is not None:
                labels[name] = lab
            if t.ndim not in (1, 2) or t.shape[0] != B:
                raise ShapeError(f"Condition {name!r} of {_OWNER} must have shape (trials,) or (trials, m) with "
                                 f"trials = {B} (the trials of 'activity'). Got shape {tuple(t.shape)} instead.")
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                i = (~torch.isfinite(t.reshape(B, -1))).any(dim=1).nonzero()[:, 0].tolist()
                raise ConfigError(f"Condition {name!r} of {_OWNER} must be finite. Got NaN or infinite values on "
                                  f"trial(s) {i[:10]}.")
            conds[name] = t
        for name in labels:
            if name not in conds:
                raise ConfigError(f"The 'condition_labels' parameter of {_OWNER} names {name!r}, which is not a condition.")
        neuron_names = self._names("neuron_names", self.neuron_names, N)
        input_names = self._names("input_names", self.input_names, inputs.shape[2])
        set_("activity", act)
        set_("times", times)
        set_("inputs", inputs)
        set_("conditions", conds)
        set_("lengths", lengths)
        set_("neuron_names", neuron_names)
        set_("input_names", input_names)
        set_("condition_labels", {k: tuple(v) for k, v in labels.items()})

    @staticmethod
    def _names(arg: str, names: Any, n: int) -> tuple[str, ...] | None:
        if names is None:
            return None
        if isinstance(names, str):
            raise ConfigError(f"The {arg!r} parameter of {_OWNER} must be a sequence of {n} names. Got the string {names!r}.")
        out = tuple(str(v) for v in names)
        if len(out) != n:
            raise ShapeError(f"The {arg!r} parameter of {_OWNER} must have {n} names (one per column). Got {len(out)}.")
        return out

    # ------------------------------------------------------------------ sizes
    @property
    def n_trials(self) -> int:
        return int(self.activity.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.activity.shape[1])

    @property
    def n_neurons(self) -> int:
        return int(self.activity.shape[2])

    @property
    def n_inputs(self) -> int:
        return int(self.inputs.shape[2])

    @property
    def dt(self) -> float:
        """Width of a time bin in ms."""
        return float(self.times[1] - self.times[0])

    def comparable_activity(self) -> torch.Tensor:
        """The activity on the bins every trial has (bins past the shortest trial are padding in
        some trials), what the similarity metrics compare. Shape: (trials, time, neurons)."""
        T = int(self.lengths.min()) if self.lengths is not None else self.n_time
        return self.activity[:, :T]

    def valid_mask(self) -> torch.Tensor:
        """Boolean (trials, time) mask of the bins inside each trial."""
        return torch.arange(self.n_time) < self.lengths[:, None]

    def check_varies(self, owner: str, argument: str = "data") -> None:
        """Raise a ConfigError (naming ``argument`` of ``owner``) when no neuron's activity varies over
        the valid bins: there is nothing to fit, and R^2 (a ratio to the variance) is undefined."""
        x = self.activity.double()[self.valid_mask()]
        if x.shape[0] < 2 or bool((x.std(dim=0) == 0).all()):
            raise ConfigError(f"The {argument!r} parameter of {owner} must hold activity that varies. Got activity "
                              f"with zero variance (every one of the {self.n_neurons} neurons is constant over the "
                              "valid bins) instead: there is nothing to fit.")

    def __repr__(self) -> str:
        conds = ", ".join(self.conditions) or "none"
        return (f"NeuralData({self.n_trials} trials x {self.n_time} bins of {self.dt:g} ms x {self.n_neurons} neurons, "
                f"{self.n_inputs} inputs, conditions: {conds})")

    # ------------------------------------------------------------------ derived data
    def condition_average(self, keys: Sequence[str]):
        """Activity averaged over the trials sharing the values of ``keys``
        (:func:`rnnscope.analysis.condition_average`, padding respected).

        Returns:
            :class:`~rnnscope.analysis.ConditionAverages` ``(averages, conditions)``.

        Shape:
            - returns averages (n_conditions, time, neurons), conditions[key] (n_conditions,)
        """
        if isinstance(keys, str):
            keys = [keys]
        return condition_average(self.activity, self.conditions, list(keys), self.lengths)

    def smooth(self, sigma_ms: float) -> NeuralData:
        """The same data with activity smoothed in time by a Gaussian of std ``sigma_ms``
        (:func:`rnnscope.analysis.gaussian_smooth`; trial edges and padding respected)."""
        sigma_ms = check_float(f"{_OWNER}.smooth", "sigma_ms", sigma_ms, low=0)
        smoothed = gaussian_smooth(self.activity, sigma_ms, self.dt, self.lengths)
        return self._replace(activity=smoothed)

    def subset(self, trials: Any = None, neurons: Any = None) -> NeuralData:
        """The data of some trials and/or neurons (indices, a boolean mask or a slice; None = all)."""
        t_idx = self._index("trials", trials, self.n_trials)
        n_idx = self._index("neurons", neurons, self.n_neurons)
        names = None if self.neuron_names is None else tuple(self.neuron_names[i] for i in n_idx.tolist())
        return NeuralData(
            activity=self.activity[t_idx][:, :, n_idx], times=self.times, inputs=self.inputs[t_idx],
            conditions={k: v[t_idx] for k, v in self.conditions.items()}, lengths=self.lengths[t_idx],
            neuron_names=names, input_names=self.input_names, condition_labels=self.condition_labels,
        )

    @staticmethod
    def _index(arg: str, value: Any, n: int) -> torch.Tensor:
        own = f"{_OWNER}.subset"
        if value is None:
            return torch.arange(n)
        if isinstance(value, slice):
            return torch.arange(n)[value]
        idx = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
        if idx.dtype == torch.bool:
            if idx.shape != (n,):
                raise ShapeError(f"A boolean {arg!r} mask given to {own} must have shape ({n},). Got {tuple(idx.shape)}.")
            idx = idx.nonzero()[:, 0]
        if idx.ndim != 1 or idx.is_floating_point():
            raise ConfigError(f"The {arg!r} parameter of {own} must be integer indices, a boolean mask or a slice. "
                              f"Got {value!r} instead.")
        if idx.numel() == 0:
            raise ConfigError(f"The {arg!r} parameter of {own} selects nothing.")
        if bool((idx >= n).any()) or bool((idx < -n).any()):
            raise ConfigError(f"The {arg!r} parameter of {own} must index 0..{n - 1}. Got {idx.tolist()[:10]}.")
        return idx.long() % n

    def condition_groups(self, keys: str | Sequence[str], *, owner: str | None = None, argument: str = "keys") -> torch.Tensor:
        """The condition of each trial: trials sharing the values of ``keys`` share an index
        (numbered like the rows of :meth:`condition_average`).

        Shape: returns (trials,) integers in 0 .. n_conditions - 1.
        """
        keys = [keys] if isinstance(keys, str) else keys
        owner = owner or f"{_OWNER}.condition_groups"
        if not isinstance(keys, Sequence) or len(keys) == 0:
            raise ConfigError(f"The {argument!r} parameter of {owner} must name one or more conditions. Got {keys!r} instead.")
        for key in keys:
            if key not in self.conditions:
                raise ConfigError(f"The {argument!r} parameter of {owner} must name conditions of the data; the "
                                  f"conditions are {', '.join(map(repr, self.conditions)) or 'none'}. Got {key!r} instead.")
        return condition_groups(self.conditions, list(keys), self.n_trials)

    def average_by(self, keys: str | Sequence[str]) -> NeuralData:
        """One trial per condition: the activity and the inputs averaged over the trials that share the
        values of ``keys`` (:meth:`condition_average`; each bin over the trials still running there).

        The conditions of the result are ``keys`` (the other conditions may differ between the trials of
        one condition); each condition lasts as long as its longest trial.

        Shape: returns activity (n_conditions, time, neurons), inputs (n_conditions, time, n_inputs).
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        groups = self.condition_groups(keys, owner=f"{_OWNER}.average_by")
        activity, table = self.condition_average(keys)
        inputs = condition_average(self.inputs, self.conditions, keys, self.lengths).averages if self.n_inputs else None
        lengths = torch.zeros(int(groups.max()) + 1, dtype=torch.long).scatter_reduce(0, groups, self.lengths, reduce="amax")
        return NeuralData(activity=activity, times=self.times, inputs=inputs, conditions=table, lengths=lengths,
                          neuron_names=self.neuron_names, input_names=self.input_names,
                          condition_labels={k: v for k, v in self.condition_labels.items() if k in table})

    def split(self, test_fraction: float, *, seed: int = 0,
              stratify: str | Sequence[str] | None = None) -> tuple[NeuralData, NeuralData]:
        """Split the trials into (train, test) at random.

        Args:
            test_fraction: fraction of trials held out, in (0, 1); at least one trial goes each way.
            seed: seed of the shuffle.
            stratify: a condition name (or several); the same fraction is then held out of each of
                their values (so every condition is in both parts when it has two trials or more).
        """
        own = f"{_OWNER}.split"
        test_fraction = check_float(own, "test_fraction", test_fraction, low=0, high=1,
                                    low_inclusive=False, high_inclusive=False)
        seed = check_seed(own, "seed", seed)
        if self.n_trials < 2:
            raise ConfigError(f"{own} needs at least 2 trials. Got {self.n_trials}.")
        gen = torch.Generator().manual_seed(seed)
        if stratify is None:
            groups = [torch.arange(self.n_trials)]
        else:
            inverse = self.condition_groups(stratify, owner=own, argument="stratify")
            groups = [(inverse == g).nonzero()[:, 0] for g in range(int(inverse.max()) + 1)]
        test: list[torch.Tensor] = []
        for members in groups:
            perm = members[torch.randperm(len(members), generator=gen)]
            k = int(round(test_fraction * len(members)))
            if len(members) >= 2:
                k = min(max(k, 1), len(members) - 1)
            test.append(perm[:k])
        test_idx = torch.cat(test).sort().values
        is_test = torch.zeros(self.n_trials, dtype=torch.bool)
        is_test[test_idx] = True
        if bool(is_test.all()) or not bool(is_test.any()):
            raise ConfigError(f"{own} with test_fraction={test_fraction:g} leaves one part empty "
                              f"({self.n_trials} trials); change test_fraction.")
        return self.subset(trials=~is_test), self.subset(trials=is_test)

    def _replace(self, **changes: Any) -> NeuralData:
        fields = dict(activity=self.activity, times=self.times, inputs=self.inputs, conditions=self.conditions,
                      lengths=self.lengths, neuron_names=self.neuron_names, input_names=self.input_names,
                      condition_labels=self.condition_labels)
        fields.update(changes)
        return NeuralData(**fields)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        activity: Any,
        *,
        times: Any = None,
        dt: float | None = None,
        inputs: Any = None,
        conditions: Mapping[str, Any] | None = None,
        lengths: Any = None,
        neuron_names: Sequence[str] | None = None,
        input_names: Sequence[str] | None = None,
    ) -> NeuralData:
        """Data from numpy arrays or torch tensors.

        Args:
            activity: (trials, time, neurons).
            times: (time,) bin times in ms; or give ``dt`` instead (times ``dt * (t + 1)``, the end of
                each step as in :class:`~rnnscope.tasks.TrialBatch`).
            inputs: (trials, time, n_inputs) or None for no inputs.
            conditions: name -> (trials,) or (trials, m); text labels become integer codes.
            lengths: (trials,) valid bins per trial, or None.
        """
        own = f"{_OWNER}.from_arrays"
        act = _to_tensor("activity", activity)
        if (times is None) == (dt is None):
            raise ConfigError(f"{own} takes exactly one of 'times' (bin times in ms) or 'dt' (bin width in ms). "
                              f"Got {'both' if times is not None else 'neither'}.")
        if times is None:
            dt = check_float(own, "dt", dt, low=0, low_inclusive=False)
            n_t = act.shape[1] if act.ndim == 3 else 0
            times = dt * torch.arange(1, n_t + 1, dtype=torch.float64)
        return cls(activity=act, times=times, inputs=inputs, conditions=dict(conditions or {}), lengths=lengths,
                   neuron_names=neuron_names, input_names=input_names)

    @classmethod
    def from_trajectory(cls, batch, states: torch.Tensor, *, neurons: Any = None) -> NeuralData:
        """Data from a simulation: ``states`` (or rates) on the trials of a
        :class:`~rnnscope.tasks.TrialBatch`, with its inputs, conditions, lengths and times.

        Shape:
            - states: (batch, time, hidden_size)
        """
        states = _to_tensor("states", states)
        if neurons is not None:
            states = states[..., torch.as_tensor(neurons).long()]
        return cls(activity=states, times=batch.times, inputs=batch.inputs,
                   conditions={k: v for k, v in batch.conditions.items()}, lengths=batch.lengths)

    @classmethod
    def from_xarray(
        cls,
        activity: Any,
        *,
        inputs: Any = None,
        conditions: Mapping[str, Any] | None = None,
        trial_dim: str = "trial",
        time_dim: str = "time",
        neuron_dim: str = "neuron",
        input_dim: str = "input",
    ) -> NeuralData:
        """Data from an ``xarray.DataArray`` with dimensions trial, time and neuron (any order).

        The time coordinate gives ``times`` (ms); coordinates along the trial dimension alone become
        conditions (with ``conditions`` added on top); neuron coordinate values become neuron
        names. ``inputs`` is a DataArray with dimensions trial, time and ``input_dim`` (or an array
        (trials, time, n_inputs)). Needs the optional extra ``rnnscope[xarray]``.
        """
        own = f"{_OWNER}.from_xarray"
        try:
            import xarray as xr
        except ImportError:
            raise ConfigError(f"{own} needs xarray: pip install 'rnnscope[xarray]'.") from None
        if not isinstance(activity, xr.DataArray):
            raise ConfigError(f"The 'activity' parameter of {own} must be an xarray.DataArray. "
                              f"Got {type(activity).__name__} instead.")
        dims = (trial_dim, time_dim, neuron_dim)
        if set(activity.dims) != set(dims):
            raise ShapeError(f"The 'activity' parameter of {own} must have dimensions {dims}. Got {activity.dims}.")
        da = activity.transpose(*dims)
        if time_dim not in da.coords:
            raise ConfigError(f"The 'activity' parameter of {own} needs a {time_dim!r} coordinate (bin times in ms).")
        conds: dict[str, Any] = {}
        for name, coord in da.coords.items():
            if coord.dims == (trial_dim,) and name != trial_dim:
                conds[str(name)] = coord.values
        conds.update(conditions or {})
        neuron_names = [str(v) for v in da.coords[neuron_dim].values] if neuron_dim in da.coords else None
        input_names = None
        if isinstance(inputs, xr.DataArray):
            idims = (trial_dim, time_dim, input_dim)
            if set(inputs.dims) != set(idims):
                raise ShapeError(f"The 'inputs' parameter of {own} must have dimensions {idims}. Got {inputs.dims}.")
            inputs = inputs.transpose(*idims)
            if input_dim in inputs.coords:
                input_names = [str(v) for v in inputs.coords[input_dim].values]
            inputs = inputs.values
        return cls(activity=np.asarray(da.values), times=np.asarray(da.coords[time_dim].values, dtype=np.float64),
                   inputs=inputs, conditions=conds, neuron_names=neuron_names, input_names=input_names)

    @classmethod
    def from_nwb(cls, path: str | Path, **kwargs: Any) -> NeuralData:
        """Data from a Neurodata Without Borders file; see :func:`rnnscope.data.read_nwb` for the options.

        Needs the optional extra ``rnnscope[nwb]``.
        """
        from ._nwb import read_nwb

        return read_nwb(path, **kwargs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file (the interchange format of ``rnnscope fit DATA``); returns its path.

        Arrays ``activity``, ``times``, ``inputs``, ``lengths`` and ``condition.NAME``, plus ``meta``,
        a JSON string with the names, the condition labels and the format version.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"activity": self.activity.numpy(), "times": self.times.numpy(), "inputs": self.inputs.numpy(),
                  "lengths": self.lengths.numpy()}
        for name, value in self.conditions.items():
            arrays[f"condition.{name}"] = value.numpy()
        meta = {"format": _FORMAT, "neuron_names": self.neuron_names, "input_names": self.input_names,
                "conditions": list(self.conditions), "condition_labels": {k: list(v) for k, v in self.condition_labels.items()}}
        arrays["meta"] = np.array(json.dumps(meta))
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> NeuralData:
        """Read a ``.npz`` file written by :meth:`save` (or by hand: ``activity`` and ``times`` are
        required; ``inputs``, ``lengths``, ``condition.NAME`` and ``meta`` are optional)."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path} does not exist (expected a .npz data file)." if not path.exists()
                                  else f"{path} is not a file (expected a .npz data file).")
        if not zipfile.is_zipfile(path):  # else numpy tries to read it as a pickle and says so
            raise CheckpointError(f"{path} is not a .npz data file: it is not a zip archive (empty, truncated, or "
                                  "another format).")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise CheckpointError(f"{path} is not a readable .npz data file (truncated or damaged?): "
                                  f"{type(exc).__name__}: {exc}") from None
        for key in ("activity", "times"):
            if key not in arrays:
                raise CheckpointError(f"{path} lacks the array {key!r}; a NeuralData file holds 'activity' "
                                      f"(trials, time, neurons) and 'times' (time,) at least. It has {sorted(arrays)}.")
        meta = _read_meta(path, arrays.pop("meta")) if "meta" in arrays else {}
        if str(meta.get("format", _FORMAT)).split("/")[0] != _FORMAT.split("/")[0]:
            raise CheckpointError(f"{path} has format {meta.get('format')!r}, not {_FORMAT!r}.")
        conds = {k.split(".", 1)[1]: arrays[k] for k in arrays if k.startswith("condition.")}
        order = meta.get("conditions") or list(conds)
        conds = {k: torch.from_numpy(conds[k]) for k in order if k in conds}
        return cls(activity=arrays["activity"], times=arrays["times"], inputs=arrays.get("inputs"),
                   conditions=conds, lengths=arrays.get("lengths"), neuron_names=meta.get("neuron_names"),
                   input_names=meta.get("input_names"),
                   condition_labels={k: tuple(v) for k, v in (meta.get("condition_labels") or {}).items()})

    def equals(self, other: NeuralData) -> bool:
        """Whether two data sets hold the same arrays, names and labels."""
        if not isinstance(other, NeuralData):
            return False
        same = (self.activity.shape == other.activity.shape and torch.equal(self.activity, other.activity)
                and torch.equal(self.times, other.times) and torch.equal(self.inputs, other.inputs)
                and torch.equal(self.lengths, other.lengths) and list(self.conditions) == list(other.conditions)
                and self.neuron_names == other.neuron_names and self.input_names == other.input_names
                and dict(self.condition_labels) == dict(other.condition_labels))
        return same and all(torch.equal(v, other.conditions[k]) for k, v in self.conditions.items())


def _read_meta(path: Path, raw: np.ndarray) -> dict[str, Any]:
    """The ``meta`` entry of a data file: a JSON object (names, labels, the format version)."""
    try:
        meta = json.loads(str(raw))
    except ValueError as exc:
        raise CheckpointError(f"The 'meta' entry of {path} is not JSON: {exc}.") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"The 'meta' entry of {path} must be a JSON object (names, labels, format). "
                              f"Got a {type(meta).__name__}.")
    for key, kind in (("conditions", list), ("condition_labels", dict), ("neuron_names", list), ("input_names", list)):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise CheckpointError(f"The entry {key!r} of the 'meta' of {path} must be a JSON "
                                  f"{'object' if kind is dict else 'array'}. Got {meta[key]!r}.")
    return meta
