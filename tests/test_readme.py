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


def test_readme_cnn_snippet_runs():
    """The README's Python example for CNNs, as written (100 Fashion-MNIST images)."""
    import os
    import re

    import numpy as np

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## CNNs and models from ONNX.*?```python\n(.*?)```", readme, re.S).group(1)
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        env: dict = {}
        exec(compile(block, "README.md", "exec"), env)
    finally:
        os.chdir(here)
    assert env["digital"].shape == env["analog"].shape == (100, 10)
    assert np.mean(env["digital"].argmax(1) == env["analog"].argmax(1)) > 0.9
