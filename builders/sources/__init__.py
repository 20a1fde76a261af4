"""The source catalogue: every entry of every module below, collected here explicitly into :data:`REGISTRY`.

One module per family of sources; each entry is a short declaration on a generic reader, and each module lists
its entries in ``ENTRIES``. Nothing registers itself as a side effect of an import: this package imports the
modules and builds the registry from their lists (duplicate keys are refused).
"""

from vgmed_data.builders.entry import Registry, SourceEntry
from vgmed_data.builders.sources import (
    angiography,
    chest_xray,
    ct_collections,
    decathlon,
    dental,
    dermoscopy,
    dicom_collections,
    endoscopy,
    idc,
    images_2d,
    mammography,
    microscopy,
    obstetric_us,
    ophthalmology,
    spine,
    tables,
    volumes,
)

MODULES = (ct_collections, decathlon, dicom_collections, idc, images_2d, tables, chest_xray, dermoscopy, endoscopy,
           microscopy, obstetric_us, ophthalmology, volumes, spine, angiography, dental, mammography)
REGISTRY = Registry.of(entry for module in MODULES for entry in module.ENTRIES)


def get_entry(key: str) -> SourceEntry:
    """The entry ``key`` (an unknown key names the closest one and the known keys)."""
    return REGISTRY.get(key)


def all_entries() -> list[SourceEntry]:
    """Every entry, by key."""
    return list(REGISTRY)


__all__ = ["REGISTRY", "all_entries", "get_entry"]
