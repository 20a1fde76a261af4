"""Functions named by ``"module:function"`` strings, imported only when called.

The core package never imports the packages above it (builders, annotation, eval) at module level; where it
hands work to them (the ``vgmed`` command table, the demo's later stages) it names them this way.
"""

from __future__ import annotations

import importlib
from typing import Any


def load_target(target: str) -> Any:
    """The object ``target`` (``"package.module:name"``) names, importing its module now."""
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)
