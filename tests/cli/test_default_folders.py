"""A run without --out goes to runs/NAME, or to the first free runs/NAME-K, which is said on stderr."""

import rnnscope.cli as cli
from rnnscope.cli import main


def test_a_second_demo_says_where_it_goes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    trained = []

    def fake_train_run(config, out, progress=None):  # the folder choice, not the training, is tested here
        out.mkdir(parents=True)
        trained.append(out)
        return {"task": config.task, "steps": 0, "performance": 1.0, "status": "criterion", "wall_time_s": 0.0}

    monkeypatch.setattr(cli, "train_run", fake_train_run)
    assert main(["demo", "--no-progress"]) == 0
    assert "already holds" not in capsys.readouterr().err
    assert main(["demo", "--no-progress"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "already holds" in line]
    assert notes == ["rnnscope demo: runs/demo already holds a run, so this one goes to runs/demo-2 (--out DIR to "
                     "choose the folder)"]
    assert [str(p) for p in trained] == ["runs/demo", "runs/demo-2"]


def test_a_second_train_without_out_says_where_it_goes(tmp_path, monkeypatch, capsys, tiny_training):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "flipflop", *tiny_training]) == 0
    assert main(["train", "flipflop", *tiny_training]) == 0
    err = capsys.readouterr().err
    assert "rnnscope train: runs/flipflop already holds a run, so this one goes to runs/flipflop-2" in err
    assert (tmp_path / "runs/flipflop-2/config.yaml").is_file()
