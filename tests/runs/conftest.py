import sys


def pytest_terminal_summary(terminalreporter):
    """Name the folder of the screenshots the browser tests kept in this run."""
    module = sys.modules.get("test_browser")
    if module is not None and module.WRITTEN:
        terminalreporter.write_line(f"browser screenshots ({len(module.WRITTEN)}): {module.ARTEFACTS}")
