"""Reading Neurodata Without Borders (NWB) files into :class:`NeuralData` (optional extra ``rnnscope[nwb]``).

Activity comes either from the units table (spike times, binned within each trial) or from a
TimeSeries (sampled rates, fluorescence, ...; averaged within each bin). Trials come from the trials
table: its ``start_time``/``stop_time`` (seconds) delimit each trial and its other columns become
conditions. NWB stores seconds; rnnscope uses ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_bool, check_float
from ..errors import CheckpointError, ConfigError, ShapeError
from ._neural_data import NeuralData

__all__ = ["read_nwb", "nwb_contents", "NWBContents"]

_OWNER = "NeuralData.from_nwb"
_RESERVED = {"start_time", "stop_time", "tags", "timeseries", "id"}


def _import_pynwb():
    try:
        import pynwb
    except ImportError:
        raise ConfigError(f"{_OWNER} needs pynwb: pip install 'rnnscope[nwb]'.") from None
    return pynwb


def _find_series(nwb: Any, name: str, argument: str = "source", columns: Sequence[str] = ()) -> Any:
    """A TimeSeries by name: ``acquisition`` first, then every processing module; or a path
    ``processing/MODULE/NAME`` / ``acquisition/NAME``. ``columns``: the trial columns the name could
    also have meant (listed in the error)."""
    parts = name.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "processing":
        mod = nwb.processing.get(parts[1])
        if mod is not None and parts[2] in mod.data_interfaces:
            return mod.data_interfaces[parts[2]]
    elif len(parts) == 2 and parts[0] == "acquisition":
        if parts[1] in nwb.acquisition:
            return nwb.acquisition[parts[1]]
    elif name in nwb.acquisition:
        return nwb.acquisition[name]
    else:
        for mod in nwb.processing.values():
            if name in mod.data_interfaces:
                return mod.data_interfaces[name]
    known = _series_names(nwb)
    also = f", nor a trial-table column of that name (the columns: {', '.join(columns) or 'none'})" if argument == "inputs" else ""
    raise ConfigError(f"{_OWNER} found no TimeSeries {name!r} (the {argument!r} parameter) in the file{also}; its "
                      f"TimeSeries: {', '.join(known) or 'none'}.")


def _series_names(nwb: Any) -> list[str]:
    """Every TimeSeries of ``acquisition`` (by name) and of the processing modules (by path)."""
    return list(nwb.acquisition) + [f"processing/{m}/{k}" for m, mod in nwb.processing.items() for k in mod.data_interfaces]


@dataclass(frozen=True)
class NWBContents:
    """What an NWB file offers :func:`read_nwb` (:func:`nwb_contents`).

    Attributes:
        trial_columns: the trial-table columns other than start/stop times and tags (possible
            conditions, alignment events and input windows).
        numeric_columns: those with one number per trial (possible ``inputs``).
        series: the TimeSeries (possible ``source`` or ``inputs``): names in ``acquisition``,
            ``processing/MODULE/NAME`` paths.
        n_trials: rows of the trials table (0 without one).
        n_units: rows of the units table (0 without one).
    """

    trial_columns: tuple[str, ...]
    numeric_columns: tuple[str, ...]
    series: tuple[str, ...]
    n_trials: int
    n_units: int


def nwb_contents(path: str | Path) -> NWBContents:
    """The trial columns, TimeSeries and sizes of an NWB file: what ``inputs``, ``conditions``,
    ``source`` and ``align`` of :func:`read_nwb` can name."""
    pynwb = _import_pynwb()
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist (expected an NWB file).")
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        trials = nwb.trials
        names = [] if trials is None else [c for c in trials.colnames if c not in _RESERVED]
        numeric = []
        for c in names:
            values = _column_values(trials[c].data[:])
            if values is not None and values.ndim == 1 and values.dtype.kind in "biuf":
                numeric.append(c)
        return NWBContents(trial_columns=tuple(names), numeric_columns=tuple(numeric), series=tuple(_series_names(nwb)),
                           n_trials=0 if trials is None else len(trials),
                           n_units=0 if nwb.units is None else len(nwb.units))


def _series_arrays(series: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps (n,) in s, data (n, channels)) of a TimeSeries."""
    data = np.asarray(series.data[:], dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise ShapeError(f"TimeSeries {name!r} read by {_OWNER} must hold (time,) or (time, channels) data. "
                         f"Got shape {data.shape}.")
    if series.timestamps is not None:
        ts = np.asarray(series.timestamps[:], dtype=np.float64)
    else:
        ts = float(series.starting_time or 0.0) + np.arange(data.shape[0]) / float(series.rate)
    if ts.shape[0] != data.shape[0]:
        raise ShapeError(f"TimeSeries {name!r} has {ts.shape[0]} timestamps for {data.shape[0]} samples.")
    return ts, data


def _bin_series(ts: np.ndarray, data: np.ndarray, edges: np.ndarray, name: str, trial: int) -> np.ndarray:
    """Mean of the samples in each bin [e_k, e_k+1); (bins, channels)."""
    idx = np.searchsorted(ts, edges, side="left")
    out = np.empty((len(edges) - 1, data.shape[1]))
    for k in range(len(edges) - 1):
        lo, hi = idx[k], idx[k + 1]
        if hi <= lo:
            raise ConfigError(f"TimeSeries {name!r} has no sample in time bin {k} of trial {trial} "
                              f"([{edges[k]:.4f}, {edges[k + 1]:.4f}) s); choose a 'bin_ms' of at least its "
                              f"sampling period.")
        out[k] = data[lo:hi].mean(axis=0)
    return out


def read_nwb(
    path: str | Path,
    *,
    bin_ms: float,
    source: str = "units",
    align: str = "start_time",
    window_ms: Sequence[float] | None = None,
    rates: bool = False,
    conditions: Sequence[str] | None = None,
    inputs: Sequence[str] = (),
    input_window: Sequence[str] | None = None,
) -> NeuralData:
    """Read trials of binned activity from an NWB file.

    Args:
        path: the ``.nwb`` file.
        bin_ms: width of a time bin in ms.
        source: ``"units"`` to bin the spike times of the units table (one neuron per unit), or the
            name of a TimeSeries in ``acquisition`` or a processing module (one neuron per column;
            samples are averaged within each bin); ``"processing/MODULE/NAME"`` names one exactly.
        align: trial-table column (seconds) each trial's time axis is aligned to; default its start.
        window_ms: (begin, end) in ms relative to ``align`` covered by the bins; default from 0 to the
            longest trial's end. Bins that end after a trial's ``stop_time`` are padding (``lengths``).
        rates: divide spike counts by the bin width (Hz) instead of returning counts.
        conditions: trial-table columns to read as conditions; default every column with one value per
            trial except start/stop times and tags.
        inputs: stimuli given on each trial: trial-table columns (a value per trial, held during
            ``input_window``, else for the whole trial) or TimeSeries names (binned like the activity).
        input_window: two trial-table columns (seconds), the onset and offset of the column inputs.

    Returns:
        A :class:`NeuralData` with ``times`` at the bin centres (ms from the alignment event).
    """
    pynwb = _import_pynwb()
    bin_ms = check_float(_OWNER, "bin_ms", bin_ms, low=0, low_inclusive=False)
    check_bool(_OWNER, "rates", rates)
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist (expected an NWB file).")
    if isinstance(inputs, str):
        inputs = [inputs]
    with _open_nwb(pynwb, path) as io:
        nwb = _read_nwb_file(io, path)
        if nwb.trials is None or len(nwb.trials) == 0:
            raise ConfigError(f"{path} has no trials table; {_OWNER} needs one (start_time, stop_time per trial).")
        trials = nwb.trials
        columns = {c: trials[c].data[:] for c in trials.colnames}
        columns["start_time"] = np.asarray(trials["start_time"].data[:], dtype=np.float64)
        columns["stop_time"] = np.asarray(trials["stop_time"].data[:], dtype=np.float64)
        n_trials = len(columns["start_time"])
        if align not in columns:
            raise ConfigError(f"The 'align' parameter of {_OWNER} must name a trial-table column; the columns are "
                              f"{sorted(columns)}. Got {align!r} instead.")
        t_align = np.asarray(columns[align], dtype=np.float64)
        stop = columns["stop_time"]
        bin_s = bin_ms / 1000.0
        if window_ms is None:
            w0, w1 = 0.0, float(np.max(stop - t_align)) * 1000.0
        else:
            if len(window_ms) != 2:
                raise ConfigError(f"The 'window_ms' parameter of {_OWNER} must be (begin, end) in ms. Got {window_ms!r}.")
            w0, w1 = float(window_ms[0]), float(window_ms[1])
            if not w1 > w0:
                raise ConfigError(f"The 'window_ms' parameter of {_OWNER} must have end > begin. Got {window_ms!r}.")
        n_bins = int(np.floor((w1 - w0) / bin_ms + 1e-9))
        if n_bins < 2:
            raise ConfigError(f"The window of {_OWNER} ({w0:g} to {w1:g} ms) holds fewer than 2 bins of {bin_ms:g} ms.")
        offsets = (w0 + bin_ms * np.arange(n_bins + 1)) / 1000.0  # bin edges relative to alignment, s
        edges = t_align[:, None] + offsets[None, :]  # (trials, bins + 1)
        # a bin is valid while it ends no later than the trial's stop
        lengths = np.sum(edges[:, 1:] <= stop[:, None] + 1e-9, axis=1).astype(np.int64)
        activity, neuron_names = _read_activity(nwb, source, edges, rates, bin_s)
        for i in range(n_trials):
            activity[i, lengths[i]:] = np.nan
        # conditions
        if conditions is None:
            names = [c for c in trials.colnames if c not in _RESERVED]
        else:
            names = list(conditions)
            for c in names:
                if c not in columns:
                    raise ConfigError(f"The 'conditions' parameter of {_OWNER} names {c!r}, which is not a trial-table "
                                      f"column; the columns are {sorted(columns)}.")
        conds: dict[str, Any] = {}
        for c in names:
            values = _column_values(columns[c])
            if values is None:
                if conditions is not None:
                    raise ConfigError(f"Trial-table column {c!r} does not hold one value per trial; it cannot be a condition.")
                continue
            conds[c] = values
        # inputs
        input_arrays = []
        for name in inputs:
            if name in columns:
                values = _column_values(columns[name])
                if values is None or values.dtype.kind not in "biuf":
                    raise ConfigError(f"Trial-table column {name!r} named in 'inputs' must be numeric, one value per trial.")
                on = np.zeros((n_trials, n_bins), dtype=bool)
                centres = edges[:, :-1] + bin_s / 2
                if input_window is None:
                    on[:] = True
                else:
                    if len(input_window) != 2 or any(c not in columns for c in input_window):
                        raise ConfigError(f"The 'input_window' parameter of {_OWNER} must name two trial-table columns "
                                          f"(onset, offset in s); the columns are {sorted(columns)}. Got {input_window!r}.")
                    t_on = np.asarray(columns[input_window[0]], dtype=np.float64)[:, None]
                    t_off = np.asarray(columns[input_window[1]], dtype=np.float64)[:, None]
                    on = (centres >= t_on) & (centres < t_off)
                input_arrays.append((on * values.astype(np.float64)[:, None])[..., None])
            else:
                series = _find_series(nwb, name, argument="inputs", columns=[c for c in columns if c not in _RESERVED])
                ts, data = _series_arrays(series, name)
                input_arrays.append(np.stack([_pad(_bin_series(ts, data, edges[i, : lengths[i] + 1], name, i), n_bins)
                                              for i in range(n_trials)]))
        input_values = np.concatenate(input_arrays, axis=2) if input_arrays else None
        input_names = []
        for name, arr in zip(inputs, input_arrays):
            input_names += [name] if arr.shape[2] == 1 else [f"{name}[{j}]" for j in range(arr.shape[2])]
    times = w0 + bin_ms * (np.arange(n_bins) + 0.5)
    return NeuralData(activity=activity, times=times, inputs=input_values, conditions=conds, lengths=lengths,
                      neuron_names=neuron_names, input_names=input_names or None)


def _open_nwb(pynwb: Any, path: Path) -> Any:
    try:
        return pynwb.NWBHDF5IO(str(path), "r")
    except OSError as exc:  # h5py: empty, truncated, or not HDF5 at all
        raise CheckpointError(f"{path} is not a readable NWB file: it is not HDF5, or it is empty or truncated "
                              f"({exc}).") from None


def _read_nwb_file(io: Any, path: Path) -> Any:
    try:
        return io.read()
    except (TypeError, ValueError, KeyError, OSError) as exc:  # HDF5, but not (whole) NWB
        raise CheckpointError(f"{path} is an HDF5 file but not a readable NWB file: {exc}") from None


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, x.shape[1]))
    out[: x.shape[0]] = x
    return out


def _column_values(raw: Any) -> np.ndarray | None:
    """A trial-table column as one value per trial (numbers or text), or None if it is ragged."""
    try:
        arr = np.asarray(raw)
    except ValueError:
        return None
    if arr.dtype.kind == "O":
        if not all(isinstance(v, (str, bytes, int, float, np.number, bool, np.bool_)) for v in arr.tolist()):
            return None
        arr = np.asarray([v.decode() if isinstance(v, bytes) else v for v in arr.tolist()])
    if arr.dtype.kind == "S":
        arr = arr.astype(str)
    if arr.ndim not in (1, 2):
        return None
    return arr


def _read_activity(nwb: Any, source: str, edges: np.ndarray, rates: bool, bin_s: float) -> tuple[np.ndarray, list[str]]:
    n_trials, n_edges = edges.shape
    if source == "units":
        units = nwb.units
        if units is None or len(units) == 0:
            raise ConfigError(f"The file has no units table; give {_OWNER} a TimeSeries as 'source' instead.")
        ids = [str(v) for v in units.id[:]]
        out = np.empty((n_trials, n_edges - 1, len(ids)))
        for j in range(len(ids)):
            spikes = np.sort(np.asarray(units["spike_times"][j], dtype=np.float64))
            idx = np.searchsorted(spikes, edges, side="left")  # counts in [e_k, e_k+1)
            out[:, :, j] = np.diff(idx, axis=1)
        if rates:
            out /= bin_s
        return out, ids
    series = _find_series(nwb, source)
    ts, data = _series_arrays(series, source)
    out = np.full((n_trials, n_edges - 1, data.shape[1]), np.nan)
    for i in range(n_trials):
        inside = edges[i][edges[i] <= ts[-1] + 1e-12]
        if len(inside) >= 2:
            out[i, : len(inside) - 1] = _bin_series(ts, data, inside, source, i)
    return out, [f"{source}[{j}]" for j in range(data.shape[1])]
