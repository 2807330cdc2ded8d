"""Build step: ship the top-level ``circuits/`` (the subcircuit library's source of truth) inside the
package as ``pyims/circuits/``, ``examples/`` as ``pyims/_examples/`` and ``tests/golden/`` as
``pyims/_golden/`` and the Markdown pages of ``docs/`` as ``pyims/_docs/`` (``pyims.shipped``), so a wheel or a non-editable install finds them from any
folder. Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SKIP = ("__pycache__", ".ipynb_checkpoints", ".DS_Store")


class BuildPyWithCircuits(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "pyims" / "circuits"
        target.mkdir(parents=True, exist_ok=True)
        for src in sorted((ROOT / "circuits").iterdir()):
            if src.suffix in (".sub", ".md"):
                self.copy_file(str(src), str(target / src.name))
        docs = Path(self.build_lib) / "pyims" / "_docs"  # the Markdown pages (`pyims docs NAME`), not the figures
        docs.mkdir(parents=True, exist_ok=True)
        for src in sorted((ROOT / "docs").glob("*.md")):
            self.copy_file(str(src), str(docs / src.name))
        for folder, name in (("examples", "_examples"), ("tests/golden", "_golden")):
            root = ROOT / folder
            for src in sorted(root.rglob("*")):
                rel = src.relative_to(root)
                if src.is_file() and not any(part in SKIP for part in rel.parts):
                    out = Path(self.build_lib) / "pyims" / name / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    self.copy_file(str(src), str(out))


setup(cmdclass={"build_py": BuildPyWithCircuits})
