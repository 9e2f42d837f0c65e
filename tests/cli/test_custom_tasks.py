"""Tasks of one's own reach the command line: ``--tasks-module`` (a file or a module, recorded in the
run's config.yaml) and the entry-point group ``rnnscope.tasks``. The worked example of
docs/tasks/custom.md is run as written: its module, its shell commands and its Python block."""

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from rnnscope.cli import main
from rnnscope.runs import load_run, read_run_config
from rnnscope.tasks import _registry, available, make

PAGE = Path(__file__).parents[2] / "docs" / "tasks" / "custom.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def registry(monkeypatch):
    """The task registry as a fresh process has it, restored after the test; calling the fixture's
    value forgets the tasks registered since (a new process, within the test)."""
    saved = {k: dict(getattr(_registry, k)) for k in ("_USER", "_LOADED", "_FROM_ENTRY_POINTS")}
    modules = set(sys.modules)

    def forget():
        for k, v in saved.items():
            getattr(_registry, k).clear()
            getattr(_registry, k).update(v)
        for name in set(sys.modules) - modules:
            if name.startswith("_rnnscope_tasks_") or name.startswith("ep_tasks"):
                del sys.modules[name]
        _registry._entry_points.cache_clear()

    forget()
    yield forget
    forget()


def test_the_worked_example_trains_and_analyses_from_the_shell(tmp_path, monkeypatch, registry, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_tasks.py").write_text(_blocks("python")[0], encoding="utf-8")
    commands = [shlex.split(line) for line in _blocks("bash")[0].splitlines() if line.startswith("rnnscope ")]
    assert [c[1] for c in commands] == ["train", "analyse", "evaluate"]
    assert "sign_memory" not in available()
    for command in commands:
        assert main([*command[1:], *(["--no-progress"] if command[1] != "evaluate" else [])]) == 0, command
        registry()  # each command in a process of its own: analyse and evaluate find the module themselves
    out = capsys.readouterr().out
    config = read_run_config("runs/own")
    assert config.tasks_module == str(tmp_path / "my_tasks.py")
    summary = json.loads(Path("runs/own/summary.json").read_text())
    assert summary["status"] == "criterion" and summary["steps"] == 50  # the page's numbers
    # two stable fixed points (one per sign) and a saddle between them
    assert "zero input: 3 fixed points, by number of unstable directions {'0': 2, '1': 1}" in out


def test_a_moved_tasks_module_is_given_again(tmp_path, monkeypatch, registry, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_tasks.py").write_text(_blocks("python")[0], encoding="utf-8")
    assert main(["train", "sign_memory", "--tasks-module", "my_tasks.py", "--hidden-size", "8", "--steps", "3",
                 "--set", "training.eval_batch_size=8", "--batch-size", "4", "--out", "runs/own", "--no-progress"]) == 0
    registry()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "my_tasks.py").rename(tmp_path / "elsewhere" / "tasks_v2.py")
    capsys.readouterr()
    assert main(["evaluate", "runs/own", "--trials", "8"]) == 2
    err = capsys.readouterr().err
    assert "tasks_module of runs/own/config.yaml file" in err and "does not exist" in err
    assert main(["evaluate", "runs/own", "--trials", "8", "--tasks-module", "elsewhere/tasks_v2.py"]) == 0
    assert main(["train", "--resume", "runs/own", "--steps", "4", "--no-progress"]) == 0  # known now
    assert load_run("runs/own").step == 4


def test_tasks_module_errors_name_the_option(tmp_path, monkeypatch, registry, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "sign_memory", "--tasks-module", "missing.py", "--out", "runs/x"]) == 2
    assert "The --tasks-module file missing.py does not exist." in capsys.readouterr().err
    (tmp_path / "empty_tasks.py").write_text("X = 1\n", encoding="utf-8")
    assert main(["train", "sign_memory", "--tasks-module", "empty_tasks.py", "--out", "runs/x"]) == 2
    err = capsys.readouterr().err
    assert "The --tasks-module module empty_tasks.py registers no task" in err and "register(" in err
    assert main(["analyse", "runs/x", "--tasks-module", "no_such_module_xyz"]) == 2
    assert "module 'no_such_module_xyz' cannot be found" in capsys.readouterr().err
    (tmp_path / "broken_tasks.py").write_text("raise RuntimeError('oops')\n", encoding="utf-8")
    assert main(["tasks", "--tasks-module", "broken_tasks.py"]) == 2
    assert "RuntimeError: oops" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_the_python_block_records_the_module(tmp_path, monkeypatch, registry):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_tasks.py").write_text(_blocks("python")[0], encoding="utf-8")
    exec(compile(_blocks("python")[1], str(PAGE), "exec"), {"__name__": "docs_example"})
    registry()
    assert "sign_memory" not in available()
    run = load_run("runs/own-python")  # a new process: the recorded module is imported again
    assert run.config.tasks_module == str(tmp_path / "my_tasks.py") and run.task == make("sign_memory")


def test_entry_point_tasks_are_listed_without_import_and_train(tmp_path, monkeypatch, registry, capsys):
    site = tmp_path / "site"
    (site / "ep_tasks-0.1.dist-info").mkdir(parents=True)
    (site / "ep_tasks-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-tasks\nVersion: 0.1\n")
    (site / "ep_tasks-0.1.dist-info" / "entry_points.txt").write_text(
        "[rnnscope.tasks]\nep_sign = ep_tasks:EpSign\nflipflop = ep_tasks:EpSign\n")
    code = _blocks("python")[0].replace("@register\n", "").replace('"sign_memory"', '"ep_sign"')
    (site / "ep_tasks.py").write_text(code.replace("class SignMemory", "class EpSign"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    registry()
    assert "ep_sign" in available() and "ep_tasks" not in sys.modules  # listed, not imported
    assert main(["tasks"]) == 0 and "ep_sign" in capsys.readouterr().out
    assert make("flipflop").__class__.__module__ == "rnnscope.tasks.flipflop"  # a built-in name wins
    out = tmp_path / "run"
    assert main(["train", "ep_sign", "--hidden-size", "8", "--steps", "3", "--batch-size", "4", "--set",
                 "training.eval_batch_size=8", "--out", str(out), "--no-progress"]) == 0
    assert "tasks_module" not in (out / "config.yaml").read_text()  # found by name, nothing to record
    registry()
    assert load_run(out).task.name == "ep_sign"
