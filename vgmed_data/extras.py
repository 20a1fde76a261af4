"""How to install an optional part of vgmed-data (an extra) with a command that works.

vgmed-data is not published on a package index, so asking pip for ``vgmed-data[eval]`` by name fails for anyone
who copies the hint. The install that works names the extra's own requirements, read from the installed distribution's
metadata (the ``[project.optional-dependencies]`` table of pyproject.toml), which are on the index; from a clone
``pip install -e '.[EXTRA]'`` works as well (docs/installing.md).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from importlib.metadata import PackageNotFoundError, requires

DISTRIBUTION = "vgmed-data"
_EXTRA_MARKER = re.compile(r"""^(?P<requirement>[^;]+);\s*extra\s*==\s*['"](?P<extra>[^'"]+)['"]\s*$""")


def extra_requirements(extra: str) -> tuple[str, ...]:
    """The requirements of ``extra`` as the installed metadata states them (empty when unknown)."""
    try:
        declared = requires(DISTRIBUTION) or []
    except PackageNotFoundError:
        return ()
    found = []
    for line in declared:
        match = _EXTRA_MARKER.match(line)
        if match and match["extra"] == extra:
            found.append(match["requirement"].strip())
    return tuple(found)


def install_command(extra: str) -> str:
    """A pip command that installs ``extra``: its requirements by name, plus the clone alternative."""
    requirements = extra_requirements(extra)
    clone = f"(or, in a clone of vgmed-data: pip install -e '.[{extra}]')"
    if not requirements:
        return f"in a clone of vgmed-data: pip install -e '.[{extra}]'"
    return f"pip install {' '.join(shlex.quote(r) for r in requirements)} {clone}"


# The extra a command belongs to, when a package missing at run time is in more than one extra (matplotlib).
_COMMAND_EXTRAS = {"annotate": "annotation", "eval": "eval", "demo": "eval"}
_EXTRAS = ("annotation", "eval", "idc")


def _import_name(requirement: str) -> str:
    """``label-studio-sdk>=2.1,<3`` -> ``label_studio_sdk`` (the distribution name as a module name)."""
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].strip().lower().replace("-", "_")


def extra_providing(module: str, *, command: str | None = None) -> str | None:
    """The extra whose requirements install the top-level package of ``module`` (None when no extra does).
    Where several do, the one that belongs to ``command`` wins."""
    top = module.split(".")[0].lower()
    candidates = [extra for extra in _EXTRAS if any(_import_name(r) == top for r in extra_requirements(extra))]
    preferred = _COMMAND_EXTRAS.get(command or "")
    if preferred in candidates:
        return preferred
    return candidates[0] if candidates else None


def missing_packages(extra: str) -> tuple[str, ...]:
    """The import names of ``extra``'s requirements that cannot be imported here (found without importing)."""
    return tuple(name for name in (_import_name(r) for r in extra_requirements(extra)) if not _importable(name))


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules (None) or a module without a spec
        return False
