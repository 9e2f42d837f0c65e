"""Every code block of the docs runs (issue 19): README.md and docs/**/*.md, page by page.

For each page, in a fresh temporary folder that stands for the root of a clone (``examples/`` is
copied in), the blocks run in the order they appear:

- a ``python`` block whose docstring opens with a file name (``NAME.py: ...``) is a module the page
  asks to save: it is written to NAME.py in the page's folder, not run.
- ``python`` blocks run in one namespace per page, so a later block may use what an earlier one
  defined, as a reader who pastes them one after the other would;
- ``bash`` blocks: each ``rnnscope ...`` command runs through the command line's ``main`` in this
  process and must exit 0; ``python examples/...`` runs in a subprocess; lines that install the
  package or run the test suite itself (``pip``, ``python -m venv``, ``python -m pytest``, ``mkdocs``,
  the benchmarks) are not run; any other command fails the test (add it here, or fix the page);
- a ``yaml`` block whose first line is a comment naming a file (``# sweep.yaml``) is written to that
  file, which later commands of the page read.

How a page controls its test, visibly in its source (an HTML comment right above the block, which
the rendered site does not show):

- ``<!-- test: skip REASON -->``: the block is not run (e.g. it needs a cluster). The list is short
  and every entry says why (``test_skips_are_few_and_explained``).

Small settings: ``test_page_runs`` (the fast suite) runs each page with the settings of QUICK_OPTIONS
(options appended to each command, which win over the page's own: argparse keeps the last) and of
QUICK_REPLACEMENTS (text replaced in a page's blocks, or in a file of examples/ the pages read; each
text must still occur there); ``test_page_runs_as_written`` (``-m slow``) runs every page exactly as written.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The pages whose blocks run (the tutorials are notebooks, run by test_tutorials.py).
PAGES = sorted([ROOT / "README.md", *(p for p in (ROOT / "docs").rglob("*.md") if "tutorials" not in p.parts)])

#: Options appended to each command in the fast suite (none for a command not listed here).
QUICK_OPTIONS = {
    "train": ["--steps", "3", "--hidden-size", "16", "--batch-size", "4", "--set", "training.eval_batch_size=8",
              "--no-progress"],
    "analyse": ["--trials", "16", "--candidates", "32", "--no-progress"],
    "analyze": ["--trials", "16", "--candidates", "32", "--no-progress"],
    "evaluate": ["--trials", "16"],
    "fit": ["--steps", "3", "--no-progress"],
    "compare": ["--permutations", "10"],
    "reproduce": ["--quick", "--no-progress"],
}
#: ``train`` options that a resumed run refuses, so the quick options are not appended to ``--resume``.
_NO_QUICK = {"train": "--resume"}

#: Text replaced in the fast suite in a page's blocks (python code, commands, yaml files), or in a file
#: of examples/ that pages read: path (relative to the root) -> [(as written, quick)]. Each must occur.
QUICK_REPLACEMENTS: dict[str, list[tuple[str, str]]] = {
    "README.md": [("TrainingConfig(steps=500, learning_rate=3e-3)", "TrainingConfig(steps=5, learning_rate=3e-3)"),
                  # minutes even in its quick version, which tests/experiments runs: here only as written (slow)
                  ("rnnscope reproduce chaos ", "# rnnscope reproduce chaos ")],
    "docs/getting-started.md": [("TrainingConfig(learning_rate=1e-2)", "TrainingConfig(steps=5, learning_rate=1e-2)")],
    "docs/sweeps.md": [("training.steps: 500", "training.steps: 3"), ("seeds: [0, 1, 2]  ", "seeds: [0]  ")],
    "docs/any_network.md": [("for step in range(1500):", "for step in range(20):"),
                            ("TrainingConfig(steps=3000, learning_rate=1e-2)", "TrainingConfig(steps=5, learning_rate=1e-2)"),
                            # the script's small setting is tests/examples/test_torch_gru_example.py's
                            ("python examples/torch_gru_fixed_points.py", "# python examples/torch_gru_fixed_points.py")],
    "docs/fitting_data.md": [("steps=500, seed=0)", "steps=3, seed=0)")],
    "docs/theory/low_rank.md": [("TrainingConfig(steps=300", "TrainingConfig(steps=5")],
    "docs/theory/random_networks.md": [
        ("random_network(1000, 2.0, seed=0, dt=0.05)", "random_network(200, 2.0, seed=0, dt=0.05)"),
        ("torch.randn(1, 1000,", "torch.randn(1, 200,"), ("torch.zeros(1, 3400, 0)", "torch.zeros(1, 800, 0)"),
        ("random_network(1000, 2.0, seed=0), n_steps=10_000", "random_network(200, 2.0, seed=0), n_steps=500")],
    "docs/theory/wong_wang.md": [("51.2], 2000, seed=0)", "51.2], 100, seed=0)")],
    # the example scripts run as documented in tests/examples/test_examples.py
    "docs/analysis.md": [("python examples/mante_line_attractor.py", "# python examples/mante_line_attractor.py"),
                         ("python examples/flow_field_rank2.py", "# python examples/flow_field_rank2.py")],
    # files the pages read, in the page's copy of examples/
    "examples/configs/sweep.yaml": [("training.steps: 500", "training.steps: 3"), ("seeds: [0, 1, 2]  ", "seeds: [0]  ")],
}

#: Pages that run only in the slow suite, even with the quick settings: page -> why.
SLOW_PAGES = {"docs/universality.md": "its one command is a reproduction whose quick version tests/experiments runs",
              "docs/multitask.md": "its reproduction's quick version (minutes) runs in tests/experiments",
              "docs/theory/wong_wang.md": "fit_wong_wang takes ~90 s even on 100 trials per coherence; "
                                          "tests/analysis/test_decisions.py tests it on small settings"}

#: Commands of bash blocks that the test does not run: installing, the test suite, the site, benchmarks.
NOT_RUN = (("python3", "-m", "venv"), ("python", "-m", "venv"), ("pip",), (".",), ("source",),
           ("python", "-m", "pytest"), ("mkdocs",), ("python", "benchmarks/"))

_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*test:\s*(\w+)\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    text: str
    directive: tuple[str, str] | None  # ("skip", reason)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a page, with the test directive written right above each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        d = _DIRECTIVE.match(lines[prev]) if prev >= 0 else None
        out.append(Block(page, start + 1, lang, "\n".join(lines[start + 1: j]) + "\n",
                         (d.group(1), d.group(2)) if d else None))
        i = j + 1
    return out


def commands(text: str) -> list[list[str]]:
    """The commands of a bash block: continuations joined, comments dropped, ``&&`` chains split."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        cmd: list[str] = []
        for w in [*words, "&&"]:
            if w == "&&":
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(w)
    return out


def _not_run(cmd: list[str]) -> bool:
    return any(len(cmd) >= len(p) and all(c == q or (q.endswith("/") and c.startswith(q)) for c, q in zip(cmd, p))
               for p in NOT_RUN)


def _replace(page: Path, text: str, quick: bool) -> str:
    if quick:
        for old, new in QUICK_REPLACEMENTS.get(str(page.relative_to(ROOT)), []):
            text = text.replace(old, new)
    return text


def _rnnscope(cmd: list[str], where: str, quick: bool) -> None:
    from rnnscope.cli import main

    args = cmd[1:]
    if quick and args and args[0] in QUICK_OPTIONS and _NO_QUICK.get(args[0]) not in args:
        args = [*args, *QUICK_OPTIONS[args[0]]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as e:  # argparse's own exits
            rc = e.code
    assert rc == 0, (f"{where}: `{shlex.join(cmd)}` exited {rc}\n(ran: rnnscope {shlex.join(args)})\n"
                     f"--- stdout\n{out.getvalue()[-3000:]}\n--- stderr\n{err.getvalue()[-3000:]}")


def _script(cmd: list[str], where: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, *cmd[1:]], capture_output=True, text=True, env=env, timeout=1800)
    assert res.returncode == 0, (f"{where}: `{shlex.join(cmd)}` exited {res.returncode}\n"
                                 f"--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}")


def run_page(page: Path, folder: Path, *, quick: bool) -> dict[str, float]:
    """Run the blocks of ``page`` in ``folder``; returns the seconds each block took."""
    shutil.copytree(ROOT / "examples", folder / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    if quick:
        for name, pairs in QUICK_REPLACEMENTS.items():
            if name.startswith("examples/"):
                text = (folder / name).read_text(encoding="utf-8")
                for old, new in pairs:
                    text = text.replace(old, new)
                (folder / name).write_text(text, encoding="utf-8")
    module = types.ModuleType("__docs__")  # a real module: dataclasses look their module up in sys.modules
    sys.modules["__docs__"] = module
    namespace = module.__dict__
    seconds: dict[str, float] = {}
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        for block in blocks(page):
            if block.directive is not None and block.directive[0] == "skip":
                continue
            t0 = time.perf_counter()
            text = _replace(page, block.text, quick)
            saved_as = re.match(r'"""([\w-]+\.py):', text)
            if block.lang == "python" and saved_as:  # "Save this as NAME.py": a module, written, not run
                (folder / saved_as.group(1)).write_text(text, encoding="utf-8")
            elif block.lang == "python":
                code = compile(text, block.where, "exec")
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(code, namespace)  # a failing block shows its page and line in the traceback
            elif block.lang == "bash":
                for cmd in commands(text):
                    if cmd[0] == "rnnscope":
                        _rnnscope(cmd, block.where, quick)
                    elif cmd[0] in ("python", "python3") and len(cmd) > 1 and cmd[1].startswith("examples/"):
                        _script(cmd, block.where)
                    elif not _not_run(cmd):
                        pytest.fail(f"{block.where}: the test does not know how to run `{shlex.join(cmd)}`")
            elif block.lang == "yaml":
                first = text.splitlines()[0] if text.strip() else ""
                m = re.match(r"#\s*([\w./-]+\.ya?ml)\s*$", first)
                if m:
                    (folder / m.group(1)).parent.mkdir(parents=True, exist_ok=True)
                    (folder / m.group(1)).write_text(text, encoding="utf-8")
            else:
                continue
            seconds[block.where] = time.perf_counter() - t0
    finally:
        os.chdir(cwd)
        sys.modules.pop("__docs__", None)
    return seconds


def _runnable(page: Path) -> bool:
    return any(b.lang in ("python", "bash") and not (b.directive and b.directive[0] == "skip") for b in blocks(page))


RUNNABLE = [p for p in PAGES if _runnable(p)]


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", [p if _id(p) not in SLOW_PAGES else pytest.param(p, marks=pytest.mark.slow)
                                  for p in RUNNABLE], ids=_id)
def test_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_page(page, tmp_path, quick=True)


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=_id)
def test_page_runs_as_written(page, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_page(page, tmp_path, quick=False)


def test_the_quick_replacements_still_match_their_pages():
    for name, pairs in QUICK_REPLACEMENTS.items():
        text = (ROOT / name).read_text(encoding="utf-8")
        for old, _ in pairs:
            assert old in text, f"{name} no longer contains {old!r}: update QUICK_REPLACEMENTS"


def test_skips_are_few_and_explained():
    skips = [(b.where, b.directive[1]) for p in PAGES for b in blocks(p) if b.directive and b.directive[0] == "skip"]
    assert len(skips) <= 6, f"too many skipped blocks: {skips}"
    for where, reason in skips:
        assert len(reason.split()) >= 3, f"{where}: a skip must say why (got {reason!r})"
    unknown = [(b.where, b.directive[0]) for p in PAGES for b in blocks(p) if b.directive and b.directive[0] != "skip"]
    assert not unknown, f"unknown test directives: {unknown}"


def test_every_runnable_block_is_found():
    """The extraction itself: the pages hold python and bash blocks, and every command is one the test runs."""
    found = [b for p in PAGES for b in blocks(p) if b.lang in ("python", "bash")]
    assert len(found) >= 30
    for b in found:
        if b.lang == "bash":
            for cmd in commands(b.text):
                assert (cmd[0] == "rnnscope" or _not_run(cmd)
                        or (cmd[0] in ("python", "python3") and cmd[1].startswith("examples/"))), \
                    f"{b.where}: `{shlex.join(cmd)}` is a command the test does not run"
