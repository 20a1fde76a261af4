"""Assemble the leaderboard Space's deploy folder: ``space/`` (its README.md with the Space YAML, Dockerfile,
requirements.txt) plus the page the package ships (``eval/results/page/app.py`` and ``static/``).

The page lives inside the package so that ``vgmed eval serve`` works from a wheel; the Space runs the same
``app.py`` without vgmed-data installed (it imports only the standard library, datasets, numpy and pillow).

    python scripts/space_bundle.py build/space
    hf upload ORG/vgmed-leaderboard build/space . --repo-type space

Standard library only; run from a checkout (docs/leaderboard.md).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "space"
PAGE = ROOT / "eval" / "results" / "page"
SPACE_FILES = ("README.md", "Dockerfile", "requirements.txt")


def bundle(out: Path) -> list[str]:
    """Write the deploy folder ``out`` (created; must be empty or absent); returns the files, relative."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"space_bundle: {out} is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    for name in SPACE_FILES:
        shutil.copy2(SPACE / name, out / name)
    shutil.copy2(PAGE / "app.py", out / "app.py")
    shutil.copytree(PAGE / "static", out / "static")
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the deploy folder to write (new or empty)")
    args = parser.parse_args(argv)
    files = bundle(args.out)
    print(f"Space folder {args.out}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
