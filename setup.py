"""Build step: ship the top-level ``circuits/`` (the subcircuit library's source of truth) inside the
package as ``pyims/circuits/``, so a wheel or a non-editable install finds it from any folder.
Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithCircuits(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "pyims" / "circuits"
        target.mkdir(parents=True, exist_ok=True)
        for src in sorted((ROOT / "circuits").iterdir()):
            if src.suffix in (".sub", ".md"):
                self.copy_file(str(src), str(target / src.name))


setup(cmdclass={"build_py": BuildPyWithCircuits})
