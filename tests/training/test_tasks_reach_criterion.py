"""Every task trains to the issue's target with the defaults of `rnnscope train TASK` (2 CPU cores).

Scored on fresh trials (``evaluate_run``, what ``rnnscope evaluate`` reports), not on the held-out batch
that stopped training (whose scores the summary reports).
Together these take about a minute on 2 cores.
"""

import pytest

from rnnscope.runs import build_run_config, evaluate_run, train_run

TARGETS = {
    "perceptual_decision": ("accuracy_above_middle", ">=", 0.9),
    "context_decision": ("performance", ">=", 0.9),
    "flipflop": ("performance", ">=", 0.95),
    "measure_set_go": ("correlation", ">=", 0.9),
    "path_integration": ("position_error", "<", 0.1),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_task_trains_to_target_with_defaults(name, tmp_path):
    summary = train_run(build_run_config({"task": name}), tmp_path / name, progress=False)
    key, op, bound = TARGETS[name]
    assert summary["status"] == "criterion", summary
    assert summary["performance"] >= summary["criterion"], summary  # the evaluation that stopped it
    value = evaluate_run(tmp_path / name, n_trials=1024)[key]
    assert (value >= bound) if op == ">=" else (value < bound), (key, value, summary)
