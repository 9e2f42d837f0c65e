"""Bad input on the command line: exit code 2, one line on stderr that names what is wrong, no
traceback, nothing written, and an existing run folder left exactly as it was."""

import contextlib
import io
import re
import zipfile

import numpy as np
import pytest
import torch

from rnnscope.cli import main
from rnnscope.data import NeuralData

BIG_SEED = str(2**63)
TRAIN = ["train", "flipflop", "--out", "{new}"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Data files, good and damaged, and a fit folder, made once for the module."""
    d = tmp_path_factory.mktemp("files")
    rng = np.random.default_rng(0)
    good = NeuralData.from_arrays(rng.normal(size=(20, 10, 5)), dt=10.0, inputs=rng.normal(size=(20, 10, 2)))
    good.save(d / "good.npz")
    NeuralData.from_arrays(np.ones((20, 10, 5)), dt=10.0).save(d / "constant.npz")
    (d / "empty.npz").write_bytes(b"")
    (d / "notzip.npz").write_bytes(b"hello, not a zip archive")
    (d / "truncated.npz").write_bytes((d / "good.npz").read_bytes()[:300])
    for name, meta in (("meta_list.npz", "[1, 2]"), ("meta_not_json.npz", "{task: ")):
        np.savez(d / name, activity=rng.normal(size=(4, 5, 3)), times=np.arange(5) * 10.0, meta=np.array(meta))
    np.savez(d / "complex.npz", activity=rng.normal(size=(4, 5, 3)) * (1 + 1j), times=np.arange(5) * 10.0)
    (d / "empty.nwb").write_bytes(b"")
    (d / "not_hdf5.nwb").write_bytes(b"plain text, not HDF5")
    h5py = pytest.importorskip("h5py")
    with h5py.File(d / "plain.nwb", "w") as f:  # HDF5, but not NWB
        f["x"] = np.arange(1000.0)
    (d / "truncated.nwb").write_bytes((d / "plain.nwb").read_bytes()[:1000])
    (d / "latin1.yaml").write_bytes("task: flipflop\n# réglage\n".encode("latin-1"))
    (d / "a_file").write_text("not a folder")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["fit", str(d / "good.npz"), "--ranks", "1", "--steps", "2", "--batch-size", "4",
                     "--out", str(d / "fit"), "--no-progress"]) == 0
    return d


def _fit(data, *more):
    return ["fit", "{files}/" + data, "--steps", "2", "--out", "{new}", "--no-progress", *more]


CASES = {
    # output paths, checked before the work
    "train --out is a file": (["train", "flipflop", "--out", "{files}/a_file"], r"--out folder .* is a file"),
    "train --out under a file": (["train", "flipflop", "--out", "{files}/a_file/run"], r"--out folder .*a_file is a file"),
    "train --out name too long": (["train", "flipflop", "--out", "{tmp}/" + "x" * 300], r"--out folder .* too long"),
    "fit --out is a file": (["fit", "{files}/good.npz", "--out", "{files}/a_file"], r"--out folder .* is a file"),
    "compare --out is a file": (["compare", "{files}/good.npz", "{files}/good.npz", "--out", "{files}/a_file"],
                                r"--out folder .* is a file"),
    "reproduce --out is a file": (["reproduce", "chaos", "--quick", "--out", "{files}/a_file"],
                                  r"--out folder .* is a file"),
    # devices, sizes, seeds
    "train --device banana": ([*TRAIN, "--device", "banana"], r"'device' parameter .* Got 'banana'"),
    "evaluate --device banana": (["evaluate", "{run}", "--device", "banana"], r"'device' parameter .* Got 'banana'"),
    "train --hidden-size 1000000": ([*TRAIN, "--hidden-size", "1000000"], r"'hidden_size' parameter .* memory"),
    "train --seed 2^63": ([*TRAIN, "--seed", BIG_SEED], r"'seed' parameter .* <= 9223372036854775807"),
    "evaluate --seed 2^63": (["evaluate", "{run}", "--seed", BIG_SEED], r"'seed' parameter"),
    "analyse --seed 2^63": (["analyse", "{run}", "--seed", BIG_SEED, "--no-progress"], r"'seed' parameter"),
    "fit --seed 2^63": (_fit("good.npz", "--seed", BIG_SEED), r"'seed' parameter"),
    "compare --seed 2^63": (["compare", "{files}/good.npz", "{files}/good.npz", "--seed", BIG_SEED, "--out", "{new}"],
                            r"'seed' parameter"),
    "reproduce --seed 2^63": (["reproduce", "chaos", "--quick", "--seed", BIG_SEED, "--out", "{new}"], r"'seed' parameter"),
    "train --dt 1000": ([*TRAIN, "--dt", "1000"], r"'dt' parameter of FlipFlop must be a float <= 30"),
    # configuration files and folders
    "train --config not UTF-8": (["train", "--config", "{files}/latin1.yaml", "--out", "{new}"], r"latin1.yaml is not UTF-8"),
    "train --config a folder": (["train", "--config", "{files}", "--out", "{new}"], r"Configuration file .* is not a file"),
    "evaluate --trials 0": (["evaluate", "{run}", "--trials", "0"], r"'n_trials' parameter of evaluate_run must be an int >= 1"),
    "evaluate a file": (["evaluate", "{files}/a_file"], r"a_file is a file, not a run folder"),
    "evaluate a fit folder": (["evaluate", "{files}/fit"], r"fit is a fit folder .*not a run folder"),
    # train --resume takes only --steps and --no-progress
    "resume --steps below the step": (["train", "--resume", "{run}", "--steps", "1"], r"at step 3; --steps 1 is below it"),
    **{f"resume with {opts[0]}": (["train", "--resume", "{run}", *opts], rf"--resume .* Got {re.escape(opts[0])}")
       for opts in (["--lr", "0.1"], ["--hidden-size", "4"], ["--seed", "3"], ["--set", "training.rate_l2=1"],
                    ["--out", "{new}"], ["--device", "cpu"], ["--tau", "50"], ["--config", "{files}/latin1.yaml"])},
    "resume with a TASK": (["train", "flipflop", "--resume", "{run}"], r"--resume .* Got TASK"),
    # data files
    **{f"fit {name}": (_fit(name), r"is not a \.npz data file: it is not a zip archive")
       for name in ("empty.npz", "notzip.npz", "truncated.npz")},
    "fit meta not an object": (_fit("meta_list.npz"), r"'meta' entry .* must be a JSON object"),
    "fit meta not JSON": (_fit("meta_not_json.npz"), r"'meta' entry .* is not JSON"),
    "fit complex activity": (_fit("complex.npz"), r"'activity' parameter of NeuralData must be real"),
    **{f"fit {name}": (_fit(name, "--bin-ms", "20"), r"is not a readable NWB file: it is not HDF5")
       for name in ("empty.nwb", "not_hdf5.nwb", "truncated.nwb")},
    "fit HDF5 but not NWB": (_fit("plain.nwb", "--bin-ms", "20"), r"is an HDF5 file but not a readable NWB file"),
    "fit zero variance": (_fit("constant.npz"), r"'data' parameter .* zero variance"),
    # every rank is checked before the first is trained: no rank_1/ is left by a fit refused at rank 9
    "fit --ranks above n_neurons": (_fit("good.npz", "--ranks", "1,9"), r"'ranks' parameter .* <= 5\. Got 9"),
    "fit --rank above n_neurons": (_fit("good.npz", "--rank", "9"), r"'rank' parameter .* <= 5\. Got 9"),
}


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv, pattern", list(CASES.values()), ids=list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(argv, pattern, files, tiny_run, tmp_path, capsys):
    if "cuda" in argv and torch.cuda.is_available():  # pragma: no cover - a machine with a GPU
        pytest.skip("cuda is available here")
    new = tmp_path / "new"
    argv = [a.format(files=files, run=tiny_run, new=new, tmp=tmp_path) for a in argv]
    before = _snapshot(tiny_run)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"rnnscope {argv[0]}: error: "), err
    assert re.search(pattern, err), err
    assert not new.exists()  # refused before anything was written
    assert _snapshot(tiny_run) == before  # the run folder is as it was


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_so(tmp_path, capsys, tiny_run):
    assert main(["train", "flipflop", "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cuda is not available on this machine" in err and "or use 'cpu'" in err and len(err.splitlines()) == 1
    if torch.version.cuda is None:  # a CPU-only build of torch: say how to get a CUDA one
        assert "CPU-only build" in err and "pip install torch --index-url https://download.pytorch.org/whl/" in err
    else:  # pragma: no cover - a CUDA build on a machine without a GPU
        assert "sees no GPU" in err
    assert not (tmp_path / "r").exists()
    for command in (["evaluate", "{run}", "--device", "cuda"], ["train", "flipflop", "--device", "cuda:1", "--seeds",
                                                                    "0-1", "--out", str(tmp_path / "s")]):
        assert main([a.replace("{run}", str(tiny_run)) for a in command]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
        assert len(errors) == 1 and "or use 'cpu'" in errors[0], errors
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("where", ["read-only", "full"])
def test_an_output_folder_that_cannot_be_written_is_refused_before_the_work(where, tmp_path, monkeypatch, capsys):
    import errno
    import os
    import tempfile

    code = errno.EROFS if where == "read-only" else errno.ENOSPC

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)  # the probe write of check_output_folder
    assert main(["train", "flipflop", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(rf"--out folder .* cannot be written: {os.strerror(code)}", err), err
    assert not (tmp_path / "r").exists()


def test_a_file_zipped_by_another_tool_is_not_mistaken_for_data(tmp_path, capsys):
    path = tmp_path / "other.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "a zip archive, but no arrays")
    assert main(["fit", str(path), "--out", str(tmp_path / "f"), "--no-progress"]) == 2
    assert re.search(r"lacks the array 'activity'", capsys.readouterr().err)
