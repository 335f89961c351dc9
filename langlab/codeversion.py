"""The code part of a store key: a hash of the functions that compute an entry and of what they
call (appendix "Reproducibility", "What a store key covers").

A store entry must be recomputed when the code that produced it would now produce something
else, and only then. :func:`code_version` therefore hashes the *compute roots* of a stage (the
function that trains a network, extracts features, ...) together with every function, class and
constant of the package they reach, each in a normalised form: parsed, docstrings removed and
printed again, so that comments, docstrings, blank lines and line wrapping do not count. Plots,
statistics and CLI text that no compute root reaches do not count either.

What it cannot see: a method called on an object whose class the closure never names (the
class of a value returned by a third-party library, say). Classes of the package that the
closure names are hashed whole, methods included.
"""
from __future__ import annotations

import ast
import copy
import functools
import hashlib
import importlib
import inspect
import sys
import textwrap
import types
from typing import Any, Iterable

from langlab import __version__
from langlab.errors import ParameterError

#: Top-level packages whose functions, classes and constants are followed.
PACKAGES = ("langlab",)

#: Modules that decide where and how results are kept or shown, not what they are: not followed.
NOT_COMPUTE = ("langlab.store", "langlab.codeversion", "langlab.errors", "langlab.presets",
               "langlab.cli", "langlab.experiment", "langlab.buildcheck", "langlab.book")

_SIMPLE = (int, float, complex, str, bytes, bool, type(None))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def _parsed(obj: Any) -> tuple[str, ast.AST]:
    tree = _strip_docstrings(ast.parse(textwrap.dedent(inspect.getsource(obj))))
    return ast.unparse(tree), tree


def normalized_source(obj: Any) -> str:
    """``obj``'s source without docstrings, comments or layout: what :func:`code_version`
    hashes for a function or class."""
    return _parsed(obj)[0]


def _in_packages(obj: Any, packages: tuple[str, ...]) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in packages and module not in NOT_COMPUTE


def _local_imports(tree: ast.AST) -> dict[str, Any]:
    """Names bound by ``import``/``from ... import`` statements inside a function body."""
    names: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = _module(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    names[top] = _module(top)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = _module(node.module)
            for alias in node.names:
                value = getattr(base, alias.name, None) if base is not None else None
                if value is None:
                    value = _module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = value
    return names


def _module(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _namespace(obj: Any) -> dict[str, Any]:
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    return dict(vars(module)) if module is not None else {}


def _without_annotations(tree: ast.AST) -> ast.AST:
    """A copy of ``tree`` without type annotations (they name types, they compute nothing)."""
    tree = copy.deepcopy(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    return tree


def _references(tree: ast.AST) -> list[list[str]]:
    """Dotted name chains read in ``tree``: ``a.b.c`` gives ``["a", "b", "c"]``."""
    chains = []
    for node in ast.walk(_without_annotations(tree)):
        if isinstance(node, ast.Name):
            chains.append([node.id])
        elif isinstance(node, ast.Attribute):
            parts, base = [], node
            while isinstance(base, ast.Attribute):
                parts.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name):
                chains.append([base.id, *reversed(parts)])
    return chains


def _resolve(chain: list[str], namespace: dict[str, Any], packages: tuple[str, ...]
             ) -> tuple[Any, str]:
    """What ``chain`` names, following attributes of the packages' modules only, and the
    dotted name it was found under; ``(None, "")`` for dunder names and other modules' values."""
    if chain[0].startswith("__"):
        return None, ""
    value, used = namespace.get(chain[0]), [chain[0]]
    for attr in chain[1:]:
        if not isinstance(value, types.ModuleType):
            break
        if value.__name__.split(".")[0] not in packages or attr.startswith("__"):
            return None, ""
        value = getattr(value, attr, None)
        used.append(attr)
    return value, ".".join(used)


def _value_text(value: Any, packages: tuple[str, ...], deps: list) -> str | None:
    """A constant's text for the hash (containers element by element), or None when it does
    not take part (modules, third-party objects); package functions in it become deps."""
    if isinstance(value, _SIMPLE):
        return repr(value)
    if isinstance(value, (tuple, list, frozenset, set, dict)) and value:
        # only containers of constants; an empty or mixed container may be a cache
        items = list(value.items()) if isinstance(value, dict) else list(value)
        if isinstance(value, (set, frozenset)):
            items.sort(key=repr)
        texts = [_value_text(v, packages, deps) for v in items]
        return None if None in texts else type(value).__name__ + "(" + ",".join(texts) + ")"
    if (inspect.isfunction(value) or inspect.isclass(value)) and _in_packages(value, packages):
        deps.append(value)
        return f"<{value.__qualname__}>"
    return None  # configs are part of a key on their own; other objects are state


def _closure(roots: Iterable[Any], packages: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, text) of every function, class and constant the roots reach, in a stable order."""
    seen: dict[int, Any] = {}
    parts: dict[str, str] = {}
    todo = list(roots)
    while todo:
        obj = todo.pop()
        obj = inspect.unwrap(obj) if callable(obj) else obj
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        text, tree = _parsed(obj)
        # keyed by qualified name only: a function that moves to another module keeps its key
        parts[obj.__qualname__] = text
        namespace = {**_namespace(obj), **_local_imports(tree)}
        if inspect.isfunction(obj) and obj.__closure__:
            namespace.update(zip(obj.__code__.co_freevars, (c.cell_contents for c in obj.__closure__)))
        for chain in _references(tree):
            value, name = _resolve(chain, namespace, packages)
            if value is None or isinstance(value, types.ModuleType):
                continue
            if (inspect.isfunction(value) or inspect.isclass(value)):
                if _in_packages(value, packages) and id(value) not in seen:
                    todo.append(value)
                continue
            if isinstance(value, (types.MethodType, types.BuiltinFunctionType)):
                continue
            deps: list = []
            value_text = _value_text(value, packages, deps)
            if value_text is not None:
                parts[f"{obj.__qualname__}: {name}"] = value_text
                todo.extend(d for d in deps if id(d) not in seen)
    return sorted(parts.items())


def code_version(*roots: Any, packages: tuple[str, ...] = PACKAGES) -> str:
    """Hash of the compute ``roots`` (functions or classes) and of all they reach in
    ``packages``, docstrings, comments and layout left out.

    Computed once per process for the same roots: the code as it was when first asked (a test
    that patches a compute function afterwards still finds the entries made before).

    Examples
    --------
    >>> from langlab import stats
    >>> len(code_version(stats.mean_ci))
    16
    """
    if not roots:
        raise ParameterError("code_version needs at least one compute function or class")
    for root in roots:
        if not (inspect.isfunction(root) or inspect.isclass(root) or inspect.ismethod(root)):
            raise ParameterError(f"a compute root must be a function or class, got {root!r}")
    return _version(roots, packages)


@functools.lru_cache(maxsize=None)
def _version(roots: tuple, packages: tuple[str, ...]) -> str:
    digest = hashlib.sha256(__version__.encode())
    for name, text in _closure(roots, packages):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:16]


def closure_names(*roots: Any, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Names of everything :func:`code_version` hashes for ``roots`` (to see what a key covers)."""
    return [name for name, _ in _closure(roots, packages)]
