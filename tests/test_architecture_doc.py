"""docs/architecture.md stays true: every module path and dotted name it names exists.

Paths are checked on disk; a dotted name resolves to the longest module or
package that exists, and what is left must be a top-level class, function or
assignment in it (read with ast, nothing is imported).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("simulator", "reports", "reference_agent", "tests")
PATH = re.compile(rf"^(?:{'|'.join(PACKAGES)})/[\w/.]*$")
DOTTED = re.compile(rf"^(?:{'|'.join(PACKAGES[:3])})(?:\.\w+)+$")


def named() -> list[str]:
    """Every backquoted span of the doc that is a module path or a dotted name."""
    spans = re.findall(r"`([^`\n]+)`", DOC.read_text(encoding="utf-8"))
    return [s for s in spans if PATH.match(s) or DOTTED.match(s)]


def top_level_names(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


def resolves(dotted: str) -> bool:
    """`pkg.mod.Name` exists: the longest existing module prefix defines the rest."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        module = base.with_suffix(".py")
        if not module.is_file() and (base / "__init__.py").is_file():
            module = base / "__init__.py"
        if not module.is_file():
            continue
        rest = parts[cut:]
        return not rest or (len(rest) == 1 and rest[0] in top_level_names(module))
    return False


def test_the_doc_names_modules() -> None:
    names = named()
    assert len(names) > 30, names
    assert "simulator/session.py" in names and "simulator.session.Session" in names


def test_every_module_named_in_the_architecture_doc_exists() -> None:
    missing = [n for n in named() if PATH.match(n) and not (ROOT / n).exists()]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_dotted_name_in_the_architecture_doc_resolves() -> None:
    missing = [n for n in named() if DOTTED.match(n) and not resolves(n)]
    assert not missing, f"docs/architecture.md names what does not exist: {missing}"


def test_a_vanished_module_is_caught() -> None:
    assert not resolves("simulator.session.NoSuchThing")
    assert not resolves("simulator.no_such_module")
    assert resolves("simulator.caller.render.render_call_full")
