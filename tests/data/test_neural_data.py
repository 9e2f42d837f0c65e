"""NeuralData: construction, validation, derived data, .npz/xarray/NWB round trips."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
import torch

from rnnscope.analysis import condition_average, gaussian_smooth
from rnnscope.data import NeuralData
from rnnscope.errors import CheckpointError, ConfigError, ShapeError


def _data(trials=12, time=30, neurons=5, inputs=2, seed=0, **kw):
    rng = np.random.default_rng(seed)
    return NeuralData.from_arrays(
        rng.normal(size=(trials, time, neurons)), dt=20.0, inputs=rng.normal(size=(trials, time, inputs)),
        conditions={"context": np.array(["motion", "color"] * (trials // 2)), "coh": rng.choice([-1.0, 1.0], trials)},
        **kw,
    )


def test_basic_properties_and_text_conditions():
    d = _data()
    assert (d.n_trials, d.n_time, d.n_neurons, d.n_inputs) == (12, 30, 5, 2)
    assert d.dt == 20.0
    assert torch.allclose(d.times, 20.0 * torch.arange(1, 31, dtype=torch.float64))
    assert d.condition_labels["context"] == ("color", "motion")
    assert d.conditions["context"].tolist() == [1, 0] * 6
    assert d.lengths.tolist() == [30] * 12
    assert "12 trials" in repr(d)


def test_no_inputs_gives_zero_columns():
    d = NeuralData.from_arrays(np.ones((3, 4, 2)), times=np.arange(4) * 10.0)
    assert d.inputs.shape == (3, 4, 0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(activity=np.ones((3, 4))), ShapeError, "trials, time, neurons"),
        (dict(times=np.arange(5.0)), ShapeError, "one time per bin"),
        (dict(times=np.array([0.0, 1.0, 2.0, 4.0])), ConfigError, "uniform bins"),
        (dict(inputs=np.ones((2, 4, 1))), ShapeError, "n_inputs"),
        (dict(conditions={"c": np.ones(4)}), ShapeError, "Condition 'c'"),
        (dict(lengths=np.array([4, 0, 4])), ConfigError, r"empty trials \(length 0\): trial\(s\) \[1\]"),
        (dict(lengths=np.array([4, 5, 4])), ConfigError, "must lie in"),
        (dict(neuron_names=["a"]), ShapeError, "2 names"),
    ],
)
def test_bad_data_is_refused_clearly(kwargs, error, match):
    base = dict(activity=np.ones((3, 4, 2)), times=np.arange(4) * 10.0)
    base.update(kwargs)
    with pytest.raises(error, match=match):
        NeuralData.from_arrays(**base)


def test_nan_errors_say_where():
    a = np.ones((3, 4, 2))
    a[1, 2, 1] = np.nan
    with pytest.raises(ConfigError, match=r"trial 1, time bin 2, neuron 1"):
        NeuralData.from_arrays(a, dt=10.0)
    a = np.ones((3, 4, 2))
    a[2] = np.nan
    with pytest.raises(ConfigError, match=r"all values NaN\): trial\(s\) \[2\]"):
        NeuralData.from_arrays(a, dt=10.0)
    # NaN in padding is fine and stored as 0
    a = np.ones((3, 4, 2))
    a[0, 3:] = np.nan
    d = NeuralData.from_arrays(a, dt=10.0, lengths=[3, 4, 4])
    assert float(d.activity[0, 3].abs().sum()) == 0.0
    assert d.valid_mask()[0].tolist() == [True, True, True, False]


def test_exactly_one_of_times_or_dt():
    with pytest.raises(ConfigError, match="exactly one of 'times'"):
        NeuralData.from_arrays(np.ones((2, 3, 1)))


def test_condition_average_and_smooth_reuse_analysis():
    d = _data()
    avg, table = d.condition_average(["context"])
    ref, _ = condition_average(d.activity, d.conditions, ["context"], d.lengths)
    assert torch.equal(avg, ref)
    assert table["context"].tolist() == [0, 1]
    assert torch.allclose(avg[1], d.activity[0::2].mean(0))
    with pytest.raises(ConfigError, match="Unknown condition 'nope'"):
        d.condition_average(["nope"])
    sm = d.smooth(40.0)
    assert torch.equal(sm.activity, gaussian_smooth(d.activity, 40.0, 20.0, d.lengths))
    assert sm.inputs is not None and torch.equal(sm.inputs, d.inputs)


def test_split_is_stratified_and_disjoint():
    d = _data(trials=20)
    train, test = d.split(0.3, seed=1, stratify="context")
    assert train.n_trials + test.n_trials == 20
    assert test.n_trials == 6
    assert sorted(test.conditions["context"].tolist()) == [0, 0, 0, 1, 1, 1]
    again = d.split(0.3, seed=1, stratify="context")[1]
    assert again.equals(test)
    rows = {tuple(r) for r in d.activity.reshape(20, -1)[:, :3].tolist()}
    got = {tuple(r) for r in torch.cat([train.activity, test.activity]).reshape(20, -1)[:, :3].tolist()}
    assert rows == got
    with pytest.raises(ConfigError, match="'stratify'.*Got 'nope'"):
        d.split(0.3, stratify="nope")
    with pytest.raises(ConfigError, match="test_fraction"):
        d.split(1.5)


def test_subset():
    d = _data(neuron_names=[f"n{i}" for i in range(5)])
    s = d.subset(trials=[0, 2], neurons=[4, 1])
    assert s.activity.shape == (2, 30, 2)
    assert torch.equal(s.activity[1, :, 0], d.activity[2, :, 4])
    assert s.neuron_names == ("n4", "n1")
    assert s.conditions["coh"].tolist() == d.conditions["coh"][[0, 2]].tolist()
    with pytest.raises(ConfigError, match="index 0..4"):
        d.subset(neurons=[7])


def test_npz_round_trip(tmp_path):
    d = _data(neuron_names=list("abcde"), input_names=["u", "v"], lengths=[30] * 11 + [20])
    path = d.save(tmp_path / "data")
    assert path.suffix == ".npz"
    back = NeuralData.load(path)
    assert back.equals(d)
    assert back.condition_labels == d.condition_labels
    with pytest.raises(CheckpointError, match="does not exist"):
        NeuralData.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "bad.npz", rates=np.ones(3))
    with pytest.raises(CheckpointError, match="lacks the array 'activity'"):
        NeuralData.load(tmp_path / "bad.npz")


def test_from_trajectory():
    from rnnscope.tasks import make

    batch = make("perceptual_decision").sample(4, seed=0)
    states = torch.randn(4, batch.n_steps, 6)
    d = NeuralData.from_trajectory(batch, states, neurons=[0, 3])
    assert d.activity.shape == (4, batch.n_steps, 2)
    assert d.dt == batch.dt and torch.equal(d.inputs, batch.inputs)


def test_from_xarray():
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 6, 3))
    da = xr.DataArray(a.transpose(2, 0, 1), dims=("neuron", "trial", "time"),
                      coords={"time": np.arange(6) * 5.0, "neuron": ["x", "y", "z"],
                              "context": ("trial", ["a", "b", "a", "b"])})
    inp = xr.DataArray(np.ones((4, 6, 1)), dims=("trial", "time", "input"), coords={"input": ["stim"]})
    d = NeuralData.from_xarray(da, inputs=inp)
    assert torch.allclose(d.activity, torch.as_tensor(a, dtype=d.activity.dtype))
    assert d.neuron_names == ("x", "y", "z") and d.input_names == ("stim",)
    assert d.condition_labels["context"] == ("a", "b") and d.dt == 5.0
    with pytest.raises(ShapeError, match="dimensions"):
        NeuralData.from_xarray(da.rename({"neuron": "cell"}))


def test_average_by_averages_activity_and_inputs_of_each_condition():
    rng = np.random.default_rng(4)
    act, inp = rng.normal(size=(6, 5, 3)), rng.normal(size=(6, 5, 2))
    ctx, coh = np.array(["a", "b", "a", "b", "a", "a"]), np.array([1, 1, 1, 2, 2, 1])
    d = NeuralData.from_arrays(act, dt=10.0, inputs=inp, conditions={"context": ctx, "coherence": coh, "x": np.arange(6)},
                               lengths=[5, 5, 3, 5, 5, 4])
    avg = d.average_by(["context", "coherence"])
    # conditions in lexicographic order: (a, 1) = trials 0, 2, 5; (a, 2) = 4; (b, 1) = 1; (b, 2) = 3
    assert avg.conditions["context"].tolist() == [0, 0, 1, 1] and avg.conditions["coherence"].tolist() == [1, 2, 1, 2]
    assert list(avg.conditions) == ["context", "coherence"] and avg.condition_labels == {"context": ("a", "b")}
    assert avg.lengths.tolist() == [5, 5, 5, 5]
    assert torch.allclose(avg.activity[0, :3], torch.as_tensor(act[[0, 2, 5], :3].mean(0), dtype=avg.activity.dtype))
    assert torch.allclose(avg.activity[0, 3], torch.as_tensor(act[[0, 5], 3].mean(0), dtype=avg.activity.dtype))
    assert torch.allclose(avg.activity[0, 4], torch.as_tensor(act[0, 4], dtype=avg.activity.dtype))
    assert torch.allclose(avg.inputs[1], torch.as_tensor(inp[4], dtype=avg.inputs.dtype))
    assert d.condition_groups(["context", "coherence"]).tolist() == [0, 2, 0, 3, 1, 0]
    train, test = d.split(0.5, seed=0, stratify=["context", "coherence"])
    assert sorted(test.conditions["x"].tolist() + train.conditions["x"].tolist()) == list(range(6))
    with pytest.raises(ConfigError, match="'keys' parameter of NeuralData.average_by must name conditions .* Got 'y'"):
        d.average_by("y")


# ---------------------------------------------------------------------------------------------- NWB
def _write_nwb(path, spikes, starts, stops, extra_columns, series=None):
    pynwb = pytest.importorskip("pynwb")
    nwb = pynwb.NWBFile(session_description="test", identifier="rnnscope-test",
                        session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    for name, desc in [(k, k) for k in extra_columns]:
        nwb.add_trial_column(name=name, description=desc)
    for i, (a, b) in enumerate(zip(starts, stops)):
        nwb.add_trial(start_time=a, stop_time=b, **{k: v[i] for k, v in extra_columns.items()})
    for s in spikes:
        nwb.add_unit(spike_times=s)
    if series is not None:
        nwb.add_acquisition(series)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_nwb_units_binned_counts_match_numpy(tmp_path):
    pytest.importorskip("pynwb")
    rng = np.random.default_rng(3)
    spikes = [np.sort(rng.uniform(0, 10, size=n)) for n in (200, 80, 350)]
    starts = np.array([0.5, 3.0, 6.2])
    stops = starts + np.array([1.0, 1.0, 0.6])
    cols = {"context": ["motion", "color", "motion"], "coherence": [0.1, -0.2, 0.4],
            "stim_on": list(starts + 0.2), "stim_off": list(starts + 0.5)}
    path = tmp_path / "session.nwb"
    _write_nwb(path, spikes, starts, stops, cols)
    d = NeuralData.from_nwb(path, bin_ms=50.0, inputs=["coherence"], input_window=("stim_on", "stim_off"))
    assert d.activity.shape == (3, 20, 3)
    assert d.lengths.tolist() == [20, 20, 12]
    assert d.dt == 50.0 and float(d.times[0]) == 25.0
    for i in range(3):
        for j in range(3):
            edges = starts[i] + 0.05 * np.arange(int(d.lengths[i]) + 1)
            counts, _ = np.histogram(spikes[j], bins=edges)
            assert d.activity[i, : int(d.lengths[i]), j].tolist() == counts.tolist()
    assert d.condition_labels["context"] == ("color", "motion")
    assert d.conditions["context"].tolist() == [1, 0, 1]
    assert torch.allclose(d.conditions["coherence"].double(), torch.tensor([0.1, -0.2, 0.4], dtype=torch.float64))
    # coherence held from 200 to 500 ms: bin centres 225..475 ms = bins 4..9
    on = d.inputs[0, :, 0].abs() > 0
    assert on.nonzero()[:, 0].tolist() == list(range(4, 10))
    assert float(d.inputs[1, 5, 0]) == pytest.approx(-0.2)
    rates = NeuralData.from_nwb(path, bin_ms=50.0, rates=True, window_ms=(0, 500))
    assert rates.n_time == 10
    assert torch.allclose(rates.activity, d.activity[:, :10] * 20.0)


def test_nwb_timeseries_source_and_errors(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    t = np.arange(0, 5, 0.01)
    data = np.stack([np.sin(t), np.cos(t)], axis=1)
    ts = pynwb.TimeSeries(name="rates", data=data, unit="Hz", timestamps=t)
    path = tmp_path / "ts.nwb"
    _write_nwb(path, [np.array([0.1, 0.2])], np.array([0.0, 2.0]), np.array([1.0, 3.0]), {}, series=ts)
    d = NeuralData.from_nwb(path, bin_ms=100.0, source="rates")
    assert d.activity.shape == (2, 10, 2)
    expected = data[200:210].mean(axis=0)
    assert np.allclose(d.activity[1, 0].numpy(), expected)
    with pytest.raises(ConfigError, match="no TimeSeries 'nope'"):
        NeuralData.from_nwb(path, bin_ms=100.0, source="nope")
    with pytest.raises(ConfigError, match="no sample in time bin"):
        NeuralData.from_nwb(path, bin_ms=5.0, source="rates")
    with pytest.raises(ConfigError, match="'align'"):
        NeuralData.from_nwb(path, bin_ms=100.0, align="go_cue")
    with pytest.raises(CheckpointError, match="does not exist"):
        NeuralData.from_nwb(tmp_path / "missing.nwb", bin_ms=10.0)
