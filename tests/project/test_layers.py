"""Architecture rules, checked on the source: layered imports, Flax isolation, docstrings.

Layers import only downward (docs/architecture.md, "Layers"): _validation, theory (0) < groups (1) < actions (2)
< equivariance, testing, sharding (3) < estimators (4) < regularizers (5) < tuning (6)
< flax, nn (7) < experiments, cli, plot (8); the top-level `symreg/__init__.py` re-exports
the layers below Flax (it counts as 6.5: it must not import Flax, and only Flax and above may
import it). Layer-0 modules import nothing from symreg but `_validation` and `_debug` (the public
`symreg.debug` wraps the latter). Shared private machinery
lives on the ground floor (`symreg/_*.py`); a package never imports another package's private
modules (`symreg.<package>._x`). Only `symreg/flax`
and `symreg/nn` import Flax (`e3nn_jax.flax` included). Every public name in a package's
`__all__` has a docstring with an `Examples:` doctest.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import symreg

ROOT = Path(symreg.__file__).parent
#: Layer of each top-level component of `symreg`; packages not yet written are just absent.
LAYERS = {
    "_validation": 0,
    "_axes": 0,
    "_debug": 0,
    "debug": 0,  # the public wrapper `checked` over the ground floor's `_debug`
    "_checks": 2.5,  # shared input checks: above actions (they read a Symmetry), below kernels
    "theory": 0,
    "groups": 1,
    "actions": 2,
    "equivariance": 3,
    "testing": 3,
    "sharding": 3,
    "estimators": 4,
    "regularizers": 5,
    "tuning": 6,
    "flax": 7,
    "nn": 7,
    "experiments": 8,
    "cli": 8,
    "plot": 8,
}
TOP = 6.5  # symreg/__init__.py re-exports layers 0-6; Flax and above may import it
FLAX_MODULES = ("flax", "e3nn_jax.flax")
FLAX_PACKAGES = ("flax", "nn")  # the components of symreg that may import Flax


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of a `symreg...` module name; KeyError for an unclassified component."""
    parts = module.split(".")
    return TOP if len(parts) == 1 else LAYERS[parts[1]]


def _is_symreg_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).is_dir() or (ROOT / rel).with_suffix(".py").exists()


def imported_modules(module: str, source: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) for every import in `source`, relative imports resolved, and
    `from pkg import name` counted as `pkg.name` when that is a module of symreg."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                is_module = base.startswith("symreg") and _is_symreg_module(full)
                is_flax = full in FLAX_MODULES
                out.append((node.lineno, full if is_module or is_flax else base))
    return out


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """Layer and Flax violations of {module: (source, is_package)}."""
    found = []
    for module, (source, is_package) in sorted(sources.items()):
        try:
            own = layer(module)
        except KeyError:
            found.append(f"{module}: unclassified component; add it to LAYERS in {__file__}")
            continue
        parts = module.split(".")
        in_flax = len(parts) > 1 and parts[0] == "symreg" and parts[1] in FLAX_PACKAGES
        zero_ok = ("_validation", "_debug", module.split(".")[1]) if own == 0 else ()
        for line, target in imported_modules(module, source, is_package):
            where = f"{module}:{line} imports {target}"
            if not in_flax and any(target == f or target.startswith(f + ".") for f in FLAX_MODULES):
                found.append(f"{where}: only symreg.flax and symreg.nn may import Flax")
            if target != "symreg" and not target.startswith("symreg."):
                continue
            try:
                other = layer(target)
            except KeyError:
                found.append(f"{where}: unclassified component")
                continue
            if other > own:
                found.append(f"{where}: upward edge (layer {own} -> {other})")
            if own == 0 and (target == "symreg" or target.split(".")[1] not in zero_ok):
                found.append(f"{where}: layer 0 imports only symreg._validation")
            if _foreign_private(module, target):
                found.append(f"{where}: another package's private module")
    return found


def _foreign_private(module: str, target: str) -> bool:
    """`target` is a private module of a symreg package other than `module`'s own."""
    parts, own = target.split("."), module.split(".")
    if parts[0] != "symreg" or len(parts) < 3 or not parts[2].startswith("_"):
        return False
    return len(own) < 2 or own[1] != parts[1]


def repository_sources() -> dict[str, tuple[str, bool]]:
    return {
        module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for p in sorted(ROOT.rglob("*.py"))
    }


def test_every_module_is_classified_and_imports_only_downward():
    sources = repository_sources()
    assert "symreg.groups._base" in sources and "symreg.actions._symmetry" in sources
    problems = violations(sources)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "module, source, expected",
    [
        ("symreg.groups._x", "from symreg.equivariance import equivariance_error", "upward edge"),
        ("symreg.groups._x", "import symreg.actions._base", "upward edge (layer 1 -> 2)"),
        ("symreg.groups._x", "from symreg import actions", "upward edge"),
        ("symreg.groups._x", "from symreg import Symmetry", "upward edge (layer 1 -> 6.5)"),
        ("symreg.actions._x", "from ..estimators import Estimate", "upward edge"),
        ("symreg.equivariance._x", "def f():\n    from symreg.tuning import x", "upward edge"),
        ("symreg.theory._x", "from symreg.groups import SO3", "upward edge"),
        ("symreg.theory._x", "from symreg.groups import SO3", "layer 0 imports only"),
        ("symreg.regularizers._x", "import flax.linen as nn", "may import Flax"),
        ("symreg.testing._x", "from e3nn_jax import flax", "may import Flax"),
        ("symreg.actions._x", "import e3nn_jax.flax", "may import Flax"),
        ("symreg.plot._x", "from flax import nnx", "only symreg.flax and symreg.nn may import"),
        ("symreg.nn._x", "from symreg.experiments import tasks", "upward edge (layer 7 -> 8)"),
        ("symreg", "from symreg.flax import SymmetryTrainState", "upward edge (layer 6.5 -> 7)"),
        ("symreg.tuning._x", "import symreg", "upward edge (layer 6 -> 6.5)"),
        ("symreg.newthing", "import jax", "unclassified component"),
        ("symreg.flax._x", "from symreg.equivariance import _metrics", "private module"),
        ("symreg.sharding._x", "from symreg.equivariance._pairs import X", "private module"),
        ("symreg._debug", "from symreg.groups import SO3", "layer 0 imports only"),
        ("symreg.debug", "from symreg import _checks", "layer 0 imports only"),
        ("symreg.regularizers._x", "from symreg.equivariance._lie import y", "private module"),
    ],
)
def test_checker_detects_violations(module, source, expected):
    problems = violations({module: (source, False)})
    assert any(expected in p for p in problems), problems


def test_checker_accepts_downward_and_relative_imports():
    ok = {
        "symreg.equivariance._x": ("from symreg.groups import SO3\nfrom . import _metrics", False),
        "symreg.flax._y": ("from symreg import _checks, _debug\nfrom symreg._axes import A", False),
        "symreg.flax._x": ("import flax.linen\nfrom symreg.tuning import x", False),
        "symreg.nn._x": ("from flax import nnx\nfrom symreg.flax import x", False),
        "symreg.theory._x": ("from symreg import _validation\nfrom symreg.theory import _y", False),
        "symreg.debug": ("from symreg import _debug, _validation", False),
        "symreg.actions": ("from symreg.actions._base import Tree", True),
        "symreg.cli": ("import e3nn_jax\nfrom symreg.flax import x", False),
        "symreg.experiments.demo": ("import symreg\nfrom symreg.groups import SO3", False),
    }
    assert violations(ok) == []


# --- public docstrings -------------------------------------------------------------------------

EXAMPLES = re.compile(r"^\s*Examples?:\s*$", re.MULTILINE)


def public_names():
    packages = sorted(module_name(p) for p in ROOT.rglob("__init__.py"))
    for package in packages:
        mod = importlib.import_module(package)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue  # subpackages and constants
            yield pytest.param(obj, id=f"{package}.{name}")


@pytest.mark.parametrize("obj", list(public_names()))
def test_public_name_has_examples_doctest(obj):
    doc = obj.__doc__ or ""  # the object's own docstring, never an inherited one
    match = EXAMPLES.search(doc)
    assert match, f"{obj.__module__}.{obj.__qualname__}: no 'Examples:' section"
    assert ">>>" in doc[match.end() :], f"{obj.__qualname__}: 'Examples:' has no doctest"
