"""Interventions beside VGRefine for ``vgmed eval run --method``: ``blind`` (image-blind control), ``vcd``,
``pai``, ``adaptvis``. Each is an :class:`Intervention` whose parameters default to the authors' published values
(cited in each module); :func:`build_methods` makes them from ``--method-param NAME.KEY=VALUE`` settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vgmed_data.eval.methods.adaptvis import AdaptVis
from vgmed_data.eval.methods.base import Intervention, MethodAnswer
from vgmed_data.eval.methods.blind import Blind
from vgmed_data.eval.methods.pai import PAI
from vgmed_data.eval.methods.vcd import VCD
from vgmed_data.errors import InvalidInputError

INTERVENTIONS: dict[str, type[Intervention]] = {cls.name: cls for cls in (PAI, VCD, AdaptVis, Blind)}

__all__ = ["INTERVENTIONS", "AdaptVis", "Blind", "Intervention", "MethodAnswer", "PAI", "VCD", "build_methods",
           "parse_method_params"]


def parse_method_params(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """``["pai.alpha=0.5", ...]`` -> ``{"pai": {"alpha": "0.5"}}``; malformed items are refused in one line."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        name, _, rest = item.partition(".")
        key, eq, value = rest.partition("=")
        if not (name and key and eq):
            raise InvalidInputError(f"cannot read --method-param {item!r}",
                                    fix="write NAME.KEY=VALUE, e.g. pai.alpha=0.5")
        if name not in INTERVENTIONS:
            raise InvalidInputError(f"--method-param {item!r}: {name!r} has no parameters here",
                                    fix=f"parameters belong to {', '.join(sorted(INTERVENTIONS))}")
        out.setdefault(name, {})[key.strip()] = value.strip()
    return out


def build_methods(names: Iterable[str], settings: Mapping[str, Mapping[str, str]]) -> dict[str, Intervention]:
    """The interventions among ``names`` (baseline and vgrefine are the runner's own), with their settings."""
    chosen = [name for name in names if name in INTERVENTIONS]
    unused = sorted(set(settings) - set(chosen))
    if unused:
        raise InvalidInputError(f"--method-param for {', '.join(unused)}, which --method does not run",
                                fix="add the method to --method or drop its parameters")
    return {name: INTERVENTIONS[name].from_settings(settings.get(name, {})) for name in chosen}
