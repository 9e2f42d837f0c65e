"""Networks as finite automata: train GRUs on parity and the seven Tomita grammars, extract the
automaton each implements and compare its size with the language's minimal automaton (Tomita 1982;
Giles et al. 1992; Weiss, Goldberg & Yahav 2018)."""

from __future__ import annotations

import time
from pathlib import Path

from matplotlib.figure import Figure

from ..analysis.automata import extract_automaton, minimal_automaton
from ..errors import ConvergenceError
from ..models import GRU
from ..plotting.attractors import plot_automaton
from ..tasks import make
from ..training import Trainer, TrainingConfig
from ._registry import Check, Reproduction, register

LANGUAGES = ["parity"] + [f"tomita{k}" for k in range(1, 8)]


@register("automata", summary="GRUs trained on parity and Tomita 1-7: extracted automata vs the minimal ones",
          reference="Tomita 1982; Giles et al. 1992; Weiss, Goldberg & Yahav 2018")
def automata(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    t0 = time.perf_counter()
    names = ["parity", "tomita1", "tomita3"] if quick else LANGUAGES
    checks, rows, extracted = [], {}, {}
    for name in names:
        task = make(name, max_length=10)
        model = GRU(task.input_size, 24, task.output_size, dt=task.dt, seed=seed)
        config = TrainingConfig(steps=1500 if quick else 4000, learning_rate=1e-2, batch_size=128, criterion=1.0,
                                stop_at_criterion=quick, seed=seed)
        result = Trainer(model, task, config, progress=progress).fit()
        minimal = minimal_automaton(task.accepts).n_states
        try:
            dfa = extract_automaton(model, task)
            n, agree, same = dfa.n_states, dfa.agreement, dfa.details["equivalent_to_language"]
            accuracy = dfa.details["network_accuracy"]
            extracted[name] = dfa
        except ConvergenceError:
            n, agree, same, accuracy = float("nan"), float("nan"), False, float("nan")
        rows[name] = {"minimal_states": minimal, "extracted_states": n, "agreement": agree,
                      "equivalent_to_language": same, "network_accuracy_all_strings": accuracy,
                      "training_steps": result.steps, "performance": result.performance}
        checks.append(Check(f"{name}: states of the extracted automaton vs the minimal one", float(n), float(minimal),
                            0.0, source="minimal DFA with the dead state"))
    figures = [_figure(out / "automata.png", extracted)]
    return Reproduction("automata", checks=checks, numbers={"languages": rows, "seconds": time.perf_counter() - t0},
                        figures=figures)


def _figure(path: Path, extracted) -> Path:
    n = max(1, len(extracted))
    cols = min(4, n)
    fig = Figure(figsize=(3.2 * cols, 3.2 * -(-n // cols)), layout="constrained")
    axes = fig.subplots(-(-n // cols), cols, squeeze=False).ravel()
    for ax, (name, dfa) in zip(axes, extracted.items()):
        plot_automaton(dfa, ax, title=f"{name}: {dfa.n_states} states")
    for ax in axes[len(extracted):]:
        ax.axis("off")
    fig.savefig(path, dpi=100)
    return path
