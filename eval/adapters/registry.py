"""The adapter registry: explicit, collision-checked, detected from the model config.

``@register`` adds an adapter class under its descriptor's family name and each of its ``model_types``
(:class:`~vgmed_data.eval.adapters.family.Family`); a second registration of a name, a model type or a published
checkpoint name raises. :func:`adapter_for_config` maps a transformers config (``config.model_type``) to its
adapter; an unknown type lists the registered families. :func:`descriptor` returns a family's descriptor and
:func:`families` all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from vgmed_data.errors import InvalidInputError

if TYPE_CHECKING:
    from vgmed_data.eval.adapters.base import Adapter
    from vgmed_data.eval.adapters.family import Family

_BY_FAMILY: dict[str, type[Adapter]] = {}
_BY_MODEL_TYPE: dict[str, type[Adapter]] = {}

A = TypeVar("A", bound="type[Adapter]")


def register(cls: A) -> A:
    """Register an :class:`~vgmed_data.eval.adapters.base.Adapter` subclass (decorator)."""
    descriptor = cls.__dict__.get("descriptor")
    if descriptor is None:
        raise InvalidInputError(f"adapter {cls.__name__} needs its own descriptor (a Family)")
    family, model_types = descriptor.name, descriptor.model_types
    taken = {c.name: f for f, owner in _BY_FAMILY.items() if owner is not cls for c in owner.descriptor.checkpoints}
    for name in [c.name for c in descriptor.checkpoints] + [family]:
        if name in taken or (name != family and name in _BY_FAMILY):
            raise InvalidInputError(f"checkpoint name {name!r} is already used (family {taken.get(name, name)})",
                                    fix="choose another name")
    if family in _BY_FAMILY and _BY_FAMILY[family] is not cls:
        raise InvalidInputError(f"adapter family {family!r} is already registered by {_BY_FAMILY[family].__name__}",
                                fix="choose another family name")
    for model_type in model_types:
        owner = _BY_MODEL_TYPE.get(model_type)
        if owner is not None and owner is not cls:
            raise InvalidInputError(f"model type {model_type!r} is already handled by {owner.__name__}",
                                    fix="a model type maps to exactly one adapter")
    _BY_FAMILY[family] = cls
    for model_type in model_types:
        _BY_MODEL_TYPE[model_type] = cls
    return cls


def unregister(family: str) -> None:
    """Remove a family (tests and plug-ins that replace an adapter)."""
    cls = _BY_FAMILY.pop(family, None)
    for model_type in [k for k, v in _BY_MODEL_TYPE.items() if v is cls]:
        del _BY_MODEL_TYPE[model_type]


def registered_families() -> list[str]:
    return sorted(_BY_FAMILY)


def descriptor(name: str) -> Family:
    """The descriptor of the registered family ``name``."""
    return adapter_class(name).descriptor


def families() -> list[Family]:
    """Every registered family's descriptor, by name."""
    return [_BY_FAMILY[name].descriptor for name in registered_families()]


def adapter_class(family: str) -> type[Adapter]:
    if family not in _BY_FAMILY:
        raise InvalidInputError(f"unknown model family {family!r}",
                                fix=f"use one of the registered families: {', '.join(registered_families())}")
    return _BY_FAMILY[family]


def adapter_for_config(config: Any, *, source: str = "") -> type[Adapter]:
    """The adapter class for a transformers config (by ``config.model_type``)."""
    model_type = getattr(config, "model_type", None)
    if model_type not in _BY_MODEL_TYPE:
        raise InvalidInputError(
            f"no adapter for model type {model_type!r}" + (f" ({source})" if source else ""),
            fix=f"supported families: {', '.join(registered_families())}; add an adapter with "
                "vgmed_data.eval.adapters.register for another architecture")
    return _BY_MODEL_TYPE[model_type]
