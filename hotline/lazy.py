"""Public names of a package imported on first use (PEP 562), so that importing one
light module of the package does not load its heavy ones.

In the package's ``__init__``, beside the same imports under ``TYPE_CHECKING`` (for
readers and type checkers)::

    __getattr__ = lazy.exports(__name__, {"AccountService": "service", ...})
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def exports(package: str, home: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``home`` is imported from
    the submodule ``home[name]`` when first asked for, then kept in the package."""

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
