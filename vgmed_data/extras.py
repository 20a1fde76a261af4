"""How to install an optional part of vgmed-data (an extra) with a command that works.

vgmed-data is not published on a package index, so asking pip for ``vgmed-data[eval]`` by name fails for anyone
who copies the hint. The install that works names the extra's own requirements, read from the installed distribution's
metadata (the ``[project.optional-dependencies]`` table of pyproject.toml), which are on the index; from a clone
``pip install -e '.[EXTRA]'`` works as well (docs/installing.md).
"""

from __future__ import annotations

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
