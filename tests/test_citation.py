"""CITATION.cff is valid CFF 1.2.0 with the package's version, and README's "How to cite" names the
papers of every reproduction."""

import re
import tomllib
from pathlib import Path

import yaml

import rnnscope.runs  # noqa: F401 - registers the reproductions of the application layer
from rnnscope import experiments

ROOT = Path(__file__).resolve().parents[1]


def test_citation_file_has_the_package_version():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert str(cff["version"]) == version
    assert cff["authors"] == [{"name": "The rnnscope developers"}]
    assert {"message", "title", "license"} <= set(cff)


def test_readme_cites_the_papers_of_every_reproduction():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How to cite", 1)[1]
    for name in experiments.available():
        assert f"`{name}`" in section, name
        _, reference = experiments.summary_of(name)
        for paper in reference.split(";"):  # "Hopfield 1982", "Dubreuil, Valente et al. 2022", "Strogatz 2015 (...)"
            first_author, year = paper.split()[0].strip(","), re.search(r"\b(19|20)\d\d\b", paper)[0]
            assert f"{first_author}" in section and f"({year})" in section, (name, paper)
