import pytest

from _tutorials import ExecutedTutorials


@pytest.fixture(scope="session")
def executed_tutorials(tmp_path_factory) -> ExecutedTutorials:
    """The tutorials, each executed once per session (by its test, or by the site's build)."""
    return ExecutedTutorials(tmp_path_factory.mktemp("tutorials"))
