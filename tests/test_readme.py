"""The README's commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "bash .ci/setup && .venv/bin/python -m pytest --ngspice=required"
    assert command in readme and command in ci


def test_readme_main_job_command():
    assert "bash .ci/setup && .venv/bin/pyims demo" in (ROOT / "README.md").read_text()
