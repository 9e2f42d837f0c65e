"""Run configuration from YAML: merging, validation, clear errors."""

import pytest

from rnnscope import ConfigError
from rnnscope.runs import RunConfig, build_run_config, load_config_file


def test_defaults_then_task_recommendations_then_file(tmp_path):
    cfg = build_run_config({"task": "perceptual_decision", "model": {"hidden_size": 16},
                            "training": {"steps": 7}, "seed": 3})
    assert cfg.model.hidden_size == 16 and cfg.training.steps == 7 and cfg.training.seed == 3
    assert cfg.task_params["dt"] == 20.0
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg


def test_yaml_roundtrip_and_malformed_yaml(tmp_path):
    cfg = build_run_config({"task": "perceptual_decision"})
    p = tmp_path / "c.yaml"
    p.write_text(cfg.to_yaml())
    assert build_run_config(load_config_file(p)) == cfg
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n  model: {")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config_file(lst)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "data, pattern",
    [
        ({"task": "perceptual_decision", "modle": {}}, r"Unknown key\(s\) modle"),
        ({"task": "perceptual_decision", "model": {"hiden_size": 3}}, r"model\.hiden_size.*Accepted keys of 'model'"),
        ({"task": "perceptual_decision", "training": {"stpes": 3}}, r"training\.stpes"),
        ({"task": "perceptual_decision", "task_params": {"coherence": 3}}, r"Unknown parameter\(s\) 'coherence'"),
        ({"task": "no_such_task"}, "Unknown task 'no_such_task'. Available tasks: "),
        ({"model": {}}, "must name a task"),
        ({"task": "perceptual_decision", "model": 5}, "'model' section"),
        ({"task": "perceptual_decision", "seed": -2}, "'seed'"),
    ],
)
def test_config_errors(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_run_config(data)


def test_model_dt_must_agree_with_task_dt():
    cfg = build_run_config({"task": "perceptual_decision", "model": {"dt": 10.0}})
    with pytest.raises(ConfigError, match="differs from the task's dt"):
        cfg.model.build(2, 1, 20.0, seed=0)


def test_exponent_notation_is_a_float_in_config_files_and_set(tmp_path):
    # YAML 1.1 reads 1e-4 (no dot) as a string; users write it all the time
    from rnnscope.cli import _parse_set
    from rnnscope.runs import build_run_config, load_config_file

    path = tmp_path / "c.yaml"
    path.write_text("task: flipflop\ntraining:\n  rate_l2: 1e-4\n  learning_rate: 3E-3\n")
    config = build_run_config(load_config_file(path), source=str(path))
    assert config.training.rate_l2 == 1e-4 and config.training.learning_rate == 3e-3
    assert _parse_set(["training.weight_l2=1e-5", "model.nonlinearity=tanh"]) == {
        "training": {"weight_l2": 1e-5}, "model": {"nonlinearity": "tanh"}}
