from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)
    yield


#: The smallest training that makes a complete run folder (a few seconds at most).
TINY_TRAINING = ["--steps", "3", "--hidden-size", "8", "--batch-size", "4", "--set", "training.eval_batch_size=8",
                 "--no-progress"]


@pytest.fixture(scope="session")
def _tiny_run_once(tmp_path_factory):
    import contextlib
    import io

    from rnnscope.cli import main

    out = tmp_path_factory.mktemp("tiny") / "run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "flipflop", *TINY_TRAINING, "--out", str(out)]) == 0
    return out


@pytest.fixture
def tiny_run(_tiny_run_once, tmp_path):
    """A fresh copy of a 3-step flip-flop run of 8 units (trained once per session)."""
    import shutil

    return Path(shutil.copytree(_tiny_run_once, tmp_path / "run"))


@pytest.fixture
def tiny_training():
    """Command-line options of the smallest training (see TINY_TRAINING)."""
    return list(TINY_TRAINING)


def _rewrite_checkpoint(path, edit=None, drop=()):
    """Rewrite the safetensors file ``path`` with the same tensors and its metadata changed:
    ``edit(meta)`` changes the decoded rnnscope metadata in place; ``drop`` lists header fields to
    leave out. The checksum field is kept as it was (so an edit makes it wrong)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load, save

    data = path.read_bytes()
    with safe_open(str(path), "pt") as f:
        fields = dict(f.metadata() or {})
    if edit is not None:
        meta = json.loads(fields["rnnscope"])
        edit(meta)
        fields["rnnscope"] = json.dumps(meta)
    path.write_bytes(save(load(data), metadata={k: v for k, v in fields.items() if k not in drop}))


@pytest.fixture
def rewrite_checkpoint():
    """The helper that edits a checkpoint's metadata behind its checksum (see _rewrite_checkpoint)."""
    return _rewrite_checkpoint
