"""The docs site builds in strict mode (mkdocs.yml): a broken link, a missing page, a cross-reference
to nothing documented (docs/_griffe_roles.py) or an unresolved `:::` identifier fails the build. It is
built with the tutorials this session executed (tests/docs/_tutorials.py), so the site shows their outputs."""

from __future__ import annotations

import shutil

import pytest

from _tutorials import NOTEBOOKS, ROOT


def test_the_docs_site_builds_in_strict_mode(tmp_path, executed_tutorials, monkeypatch):
    pytest.importorskip("mkdocs", reason="the docs extra (pip install -e '.[docs]') builds the site")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort

    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("__pycache__"))
    for notebook in NOTEBOOKS:  # the executed copies, with their figures
        shutil.copyfile(executed_tutorials(notebook), docs / "tutorials" / notebook.name)
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    monkeypatch.chdir(ROOT)  # mkdocstrings reads src/ and docs/_griffe_roles.py relative to mkdocs.yml
    config = load_config(str(ROOT / "mkdocs.yml"), docs_dir=str(docs), site_dir=str(tmp_path / "site"), strict=True)
    try:
        build(config)
    except Abort as exc:
        pytest.fail(f"mkdocs build --strict failed: {exc}")
    site = tmp_path / "site"
    api = (site / "api" / "analysis" / "index.html").read_text(encoding="utf-8")
    assert 'id="rnnscope.analysis.find_fixed_points"' in api  # the reference comes from the docstrings
    assert 'href="../analysis/#rnnscope.analysis.FlowField"' in (site / "api" / "plotting" / "index.html").read_text()
    tutorial = (site / "tutorials" / "05_flip_flop_black_box" / "index.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in tutorial  # rendered with the outputs of the executed notebook
    assert (site / "report" / "index.html").exists() and (site / "figures" / "report" / "flipflop_view.png").exists()


def test_sphinx_roles_become_checked_cross_references():
    pytest.importorskip("griffe", reason="the docs extra (pip install -e '.[docs]') builds the site")
    import importlib.util

    spec = importlib.util.spec_from_file_location("_griffe_roles", ROOT / "docs" / "_griffe_roles.py")
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    ext = roles.SphinxRoles()
    # resolved as Sphinx would: the class's own member, the subpackage's name, a unique public name
    assert ext.resolve("fit", "rnnscope.training._trainer.Trainer") == "rnnscope.training.Trainer.fit"
    assert ext.resolve("TrialBatch", "rnnscope.tasks._base.AbstractTask.sample") == "rnnscope.tasks.TrialBatch"
    assert ext.resolve("~rnnscope.analysis.FlowField".lstrip("~"), "rnnscope.plotting.flow") == "rnnscope.analysis.FlowField"
    # a public name that is also a submodule's is documented at its own path
    assert ext.resolve("rnnscope.analysis.flow_field", "rnnscope.plotting.flow") == "rnnscope.analysis.flow_field.flow_field"
    # a name that exists (private, or another library's) is code; one that does not is left for strict to fail on
    assert ext.exists("atomic_write_bytes", "rnnscope.training._checkpoint")
    assert ext.exists("scipy.integrate.solve_ivp", "rnnscope.numerics")
    assert not ext.exists("no_such_function", "rnnscope.training._checkpoint")
    assert ext.resolve("no_such_function", "rnnscope.training._checkpoint") not in ext.known
