"""Every task trains to the issue's target with the defaults of `rnnscope train TASK` (2 CPU cores).

Scored on fresh held-out trials (the summary's evaluation), not on the batch that stopped training.
Together these take well under a minute on 2 cores.
"""

import pytest

from rnnscope.runs import build_run_config
from rnnscope.runs import train_run

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
    value = summary["evaluation"][key]
    assert summary["status"] == "criterion", summary
    assert (value >= bound) if op == ">=" else (value < bound), (key, value, summary)
