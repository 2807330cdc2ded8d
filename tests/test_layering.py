"""Layering is a test: every import under pyims/ against the rules of docs/architecture.md ("Layering").

The rules live in the doc's three tables (stages in order, forbidden stages, exceptions); this test
parses them and the code (``ast``; nothing is imported). Imports come in three kinds: ``module``
(run at load), ``lazy`` (inside a function) and ``TYPE_CHECKING`` (annotations only). The issue's
own rules are also held here, so the doc cannot drop one silently.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pyims"
DOC = ROOT / "docs" / "architecture.md"

#: The rules the issue demands (#23, requirement 7): (stage, stages it never imports).
REQUIRED_FORBIDDEN = {
    "spec": {"components"},
    "model": {"components", "netlist", "runners"},
    "compare": {"inference", "runners", "netlist", "cluster"},
    "cli": {"netlist", "runners"},
    "plots": {"netlist", "runners"},
}
#: Stages the issue names, with where each must sit: (stage, stages it must come after).
REQUIRED_ORDER = {
    "hardware": {"components", "spec"},
    "mapping": {"hardware"},
    "inference": {"compare", "mapping", "runners"},
}
KINDS = ("module", "lazy", "TYPE_CHECKING")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (the submodule when ``from package import submodule``)
    kind: str  # one of KINDS
    line: int
    version_only: bool  # ``from pyims import __version__``

    def where(self) -> str:
        return f"{self.source.replace('.', '/')}.py:{self.line} ({self.kind}) imports {self.target}"


@dataclass(frozen=True)
class Rules:
    stages: tuple[tuple[str, tuple[str, ...]], ...]  # (stage, module prefixes), in order
    forbidden: dict[str, set[str]]
    exceptions: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (module prefix, target prefixes, kinds)

    def stage_of(self, module: str) -> str:
        best, length = None, -1
        for stage, prefixes in self.stages:
            for prefix in prefixes:
                if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                    best, length = stage, len(prefix)
        if best is None:
            raise AssertionError(f"{module} belongs to no stage; add it to the stage table of docs/architecture.md")
        return best

    def rank(self, stage: str) -> int:
        return [s for s, _ in self.stages].index(stage)

    def excepted(self, imp: Import) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
        for module, targets, kinds in self.exceptions:
            if _under(imp.source, module) and any(_under(imp.target, t) for t in targets) and imp.kind in kinds:
                return module, targets, kinds
        return None


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _table(section: str, header: str) -> list[list[str]]:
    """The rows of the markdown table in ``section`` whose header row starts with ``header``."""
    text = DOC.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows, inside = [], False
    for line in body.splitlines():
        if line.startswith(f"| {header} |"):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            if set(line) <= set("|- "):
                continue
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    assert rows, f"no table headed {header!r} under '## {section}' in {DOC}"
    return rows


def _names(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell)) or tuple(p.strip() for p in cell.split(",") if p.strip())


def load_rules() -> Rules:
    stages = tuple((row[0], _names(row[1])) for row in _table("Layering", "stage | modules"))
    forbidden = {row[0]: set(_names(row[1])) for row in _table("Layering", "stage | never imports")}
    exceptions = []
    for row in _table("Layering", "module | imports"):
        (module,), targets, kinds = _names(row[0]), _names(row[1]), tuple(k.strip() for k in row[2].split(","))
        assert set(kinds) <= set(KINDS), f"exception {module}: kinds {kinds} are not among {KINDS}"
        exceptions.append((module, targets, kinds))
    return Rules(stages=stages, forbidden=forbidden, exceptions=tuple(exceptions))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def collect_imports(modules: dict[str, Path]) -> list[Import]:
    """Every import of a pyims module by a pyims module, with its kind."""
    out: list[Import] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"

        def record(node: ast.AST, kind: str) -> None:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _under(alias.name, "pyims"):
                        out.append(Import(name, alias.name, kind, node.lineno, False))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                if not _under(module, "pyims"):
                    return
                version_only = module == "pyims" and all(a.name == "__version__" for a in node.names)
                targets = {f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names}
                for target in sorted(targets):
                    out.append(Import(name, target, kind, node.lineno, version_only))

        def walk(node: ast.AST, kind: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child.test):
                    for sub in child.body:
                        record(sub, "TYPE_CHECKING")
                        walk(sub, "TYPE_CHECKING")
                    for sub in child.orelse:
                        record(sub, kind)
                        walk(sub, kind)
                    continue
                child_kind = "lazy" if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else kind
                record(child, child_kind)
                walk(child, child_kind)

        walk(ast.parse(path.read_text(), filename=str(path)), "module")
    return out


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return collect_imports(_modules())


def test_the_doc_states_the_rules_the_issue_demands(rules):
    names = [s for s, _ in rules.stages]
    assert len(names) == len(set(names)), f"a stage is listed twice: {names}"
    for stage, never in REQUIRED_FORBIDDEN.items():
        assert never <= rules.forbidden.get(stage, set()), f"docs/architecture.md must forbid {stage} -> {sorted(never)}"
    for stage, after in REQUIRED_ORDER.items():
        for lower in after:
            assert rules.rank(lower) < rules.rank(stage), f"{stage} must come after {lower} in the stage table"
    for stage, never in rules.forbidden.items():
        assert stage in names and never <= set(names), f"forbidden-table row {stage}: unknown stage in {sorted(never)}"
    # the stages being built now (issue 23) have their places
    assert rules.stage_of("pyims.devices.ideal") == "components"
    assert rules.stage_of("pyims.hardware.topology") == "hardware"
    assert rules.stage_of("pyims.spec.analysis") == "spec"
    assert rules.stage_of("pyims.inference.simulate") == rules.stage_of("pyims.inference.verify") == "inference"


def test_every_module_has_a_stage(rules):
    for module in _modules():
        rules.stage_of(module)


def test_imports_point_down_the_stages(rules, imports):
    bad = []
    for imp in imports:
        src, dst = rules.stage_of(imp.source), rules.stage_of(imp.target)
        if src == dst or imp.version_only or imp.kind == "TYPE_CHECKING" or rules.excepted(imp):
            continue
        if rules.rank(dst) > rules.rank(src):
            bad.append(f"{imp.where()}: {src} -> {dst} points up the stages")
    assert not bad, "imports against docs/architecture.md (Layering):\n" + "\n".join(bad)


def test_no_stage_imports_what_it_must_not(rules, imports):
    bad = []
    for imp in imports:
        src, dst = rules.stage_of(imp.source), rules.stage_of(imp.target)
        if dst in rules.forbidden.get(src, set()) and not rules.excepted(imp):
            bad.append(f"{imp.where()}: {src} never imports {dst}")
    assert not bad, "forbidden imports (docs/architecture.md, Layering):\n" + "\n".join(bad)


def test_every_exception_is_still_used(rules, imports):
    used = {rules.excepted(imp) for imp in imports} - {None}
    stale = [e for e in rules.exceptions if e not in used]
    assert not stale, f"exceptions in docs/architecture.md that no import needs any more; remove them: {stale}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_stages(rules, imports):
    edges: dict[str, set[str]] = {}
    for imp in imports:
        src, dst = rules.stage_of(imp.source), rules.stage_of(imp.target)
        if imp.kind == "module" and src != dst and not imp.version_only:
            edges.setdefault(src, set()).add(dst)
    assert not _cycles(edges), f"stages that import each other at module level: {_cycles(edges)}"


def test_no_module_level_import_cycles_between_modules(imports):
    modules = _modules()
    edges: dict[str, set[str]] = {}
    for imp in imports:
        if imp.kind != "module" or imp.version_only or imp.target not in modules or imp.target == imp.source:
            continue
        if _under(imp.source, imp.target) and modules[imp.target].name == "__init__.py":
            continue  # a module importing its own package: the package is loaded first anyway
        edges.setdefault(imp.source, set()).add(imp.target)
    assert not _cycles(edges), f"modules that import each other at module level: {_cycles(edges)}"


def test_a_base_class_module_imports_none_of_its_runners(imports):
    """``runners/base.py`` knows no backend, not even lazily: ``runners/registry.py`` names them."""
    assert not [i.where() for i in imports if i.source == "pyims.runners.base" and i.target.startswith("pyims.runners.")]


def test_the_collector_sees_each_kind(tmp_path):
    """The collector against a module with one import of each kind (and a relative one)."""
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nfrom pyims.errors import SpecError\nfrom . import curves\n"
                     "if TYPE_CHECKING:\n    from pyims.netlist.model import Element\n"
                     "def f():\n    import pyims.runners.native\n")
    found = {(i.target, i.kind) for i in collect_imports({"pyims.model.probe": probe, "pyims.model.curves": probe})
             if i.source == "pyims.model.probe"}
    assert found == {("pyims.errors", "module"), ("pyims.model.curves", "module"), ("pyims.netlist.model", "TYPE_CHECKING"),
                     ("pyims.runners.native", "lazy")}
