"""The source catalogue: importing this package registers every entry in :data:`vgmed_data.builders.entry.REGISTRY`.

One module per family of sources; each entry is a short declaration on a generic reader.
"""

from vgmed_data.builders.sources import ct_collections, decathlon, dicom_collections, images_2d, tables  # noqa: F401
