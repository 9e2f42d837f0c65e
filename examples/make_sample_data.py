"""The sample recordings the docs fit (docs/fitting_data.md): ``recording.npz`` and ``session.nwb``.

    python examples/make_sample_data.py [OUT]     # OUT: default the current folder

- ``recording.npz``: the activity of 16 of the units of a random rank-2 rate network (64 units,
  tau 100 ms) driven by 64 trials of the context-dependent decision task in 20 ms bins, with
  Gaussian noise of std 0.05; conditions ``context`` (0 motion, 1 colour), ``coherence`` (the cued
  stream's signed coherence) and the task's own (``choice``, ``coherence_motion``, ...). The
  file the script writes is also shipped as ``examples/data/recording.npz`` (about 130 kB).
- ``session.nwb`` (needs pynwb, ``pip install "rnnscope[nwb]"``): the synthetic spiking session of
  ``examples/nwb_to_fitted_network.py`` (16 Poisson units, 240 trials of a random-dots task).

Both are synthetic and small, for trying ``rnnscope fit`` and ``NeuralData``; they carry no claim
about a brain.
"""

import sys
from pathlib import Path

import torch

from rnnscope import RateRNN, simulate, tasks
from rnnscope.data import NeuralData


def write_recording(path: Path, n_trials: int = 64, n_neurons: int = 16, seed: int = 0) -> Path:
    task = tasks.make("context_decision", dt=20.0, stimulus=(400.0, 400.0))
    batch = task.sample(n_trials, seed=seed)
    g = torch.Generator().manual_seed(seed)
    n_units = 64
    m, n = torch.randn(n_units, 2, generator=g), torch.randn(n_units, 2, generator=g)
    n = 1.5 * m + 0.5 * n  # overlapping loadings: slow latent dynamics
    model = RateRNN.from_low_rank(m=m, n=n, input_weights=torch.randn(n_units, task.input_size, generator=g),
                                  output_weights=torch.zeros(1, n_units), tau=100.0, dt=task.dt)
    with torch.no_grad():
        rates = model.rates(simulate(model, batch.inputs, noise=False).states)
    rates = rates[..., :n_neurons] + 0.05 * torch.randn(*rates.shape[:2], n_neurons, generator=g)
    data = NeuralData.from_trajectory(batch, rates.float())
    cued = batch.conditions["context"]
    coherence = torch.where(cued == 0, batch.conditions["coherence_motion"], batch.conditions["coherence_colour"])
    data = NeuralData.from_arrays(data.activity.float(), times=data.times, inputs=data.inputs.float(),
                                  conditions={**data.conditions, "coherence": coherence}, lengths=data.lengths)
    return data.save(path)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {write_recording(out / 'recording.npz')}")
    try:
        import pynwb  # noqa: F401
    except ImportError:
        print("session.nwb needs pynwb: pip install 'rnnscope[nwb]'")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from nwb_to_fitted_network import write_session

    print(f"wrote {write_session(out / 'session.nwb')}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
