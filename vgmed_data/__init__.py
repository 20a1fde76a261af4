"""vgmed-data core: sample schema, geometry, medical image IO, dataset folders, errors and the ``vgmed`` CLI."""

__version__ = "0.1.0"
