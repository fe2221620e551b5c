"""Lazy public names for a package (PEP 562): the module ``__getattr__`` and ``__dir__`` that import a
name from its defining module on first access and keep it in the package, so that importing the package
(``hccstudy`` for the command line, ``hccstudy.analysis`` for reading a config) loads no numerical library."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from importlib.util import find_spec
from typing import Any


def lazy_names(package: str, names: Mapping[str, str], namespace: dict[str, Any], *,
               subpackages: bool = False) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose globals are ``namespace``: ``names`` maps a public
    name to the module (relative to the package) that defines it.  ``subpackages``: an attribute that is
    a submodule not imported yet (``hccstudy.synth`` after ``import hccstudy``) is imported too."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            if subpackages and not name.startswith("__") and find_spec(f"{package}.{name}") is not None:
                return import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
