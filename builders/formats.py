"""The catalogue of other dataset formats: what ``vgmed import FORMAT`` reads and ``vgmed export FORMAT`` writes.

One entry per format, as the source catalogue has one entry per source: its name, one line saying what it is,
and the commands that read and write it, named by ``"module:function"`` (the function adds the command's
arguments to its sub-parser and sets ``func``). A command is imported only when its sub-command is built, so
naming the evaluation harness here imports nothing from eval (builders never import eval; docs/architecture.md).

Adding a format: its reader/writer module, a ``register_*`` function per direction, and one entry below.
"""

from __future__ import annotations

from dataclasses import dataclass

from vgmed_data.errors import InvalidInputError


@dataclass(frozen=True, kw_only=True)
class DatasetFormat:
    name: str
    summary: str  # the sub-command's help line
    importer: str | None = None  # "module:function" registering `vgmed import NAME`
    exporter: str | None = None  # "module:function" registering `vgmed export NAME`

    def __post_init__(self) -> None:
        if self.importer is None and self.exporter is None:
            raise InvalidInputError(f"format {self.name!r} neither imports nor exports",
                                    fix="name its importer or exporter")


FORMATS: tuple[DatasetFormat, ...] = (
    DatasetFormat(name="vgmed-jsonl", summary="the official VGMED release JSONL (image, question, bbox)",
                  importer="vgmed_data.builders.cli:register_import_jsonl",
                  exporter="vgmed_data.builders.cli:register_export_jsonl"),
    DatasetFormat(name="medsg", summary="MedSG-Bench JSON (multi-image grounding) with its image files",
                  importer="vgmed_data.builders.sequences.cli:register_import_medsg",
                  exporter="vgmed_data.builders.sequences.cli:register_export_medsg"),
    # The harness exports score as `vgmed eval` does (its prompts, answer matching, box scoring): they live in eval.
    DatasetFormat(name="lmms-eval", summary="an lmms-eval task (YAML + utils.py) per configuration",
                  exporter="vgmed_data.eval.harness.cli:register_lmms_eval"),
    DatasetFormat(name="vlmevalkit", summary="the closed questions as a VLMEvalKit custom multiple-choice TSV",
                  exporter="vgmed_data.eval.harness.cli:register_vlmevalkit"),
)


def registry_of(formats: tuple[DatasetFormat, ...]) -> dict[str, DatasetFormat]:
    registry: dict[str, DatasetFormat] = {}
    for fmt in formats:
        if fmt.name in registry:
            raise InvalidInputError(f"format {fmt.name!r} is declared twice", fix="give each format one entry")
        registry[fmt.name] = fmt
    return registry


REGISTRY: dict[str, DatasetFormat] = registry_of(FORMATS)


def importers() -> dict[str, DatasetFormat]:
    """The formats ``vgmed import`` reads, by name (catalogue order)."""
    return {name: fmt for name, fmt in REGISTRY.items() if fmt.importer is not None}


def exporters() -> dict[str, DatasetFormat]:
    """The formats ``vgmed export`` writes, by name (catalogue order)."""
    return {name: fmt for name, fmt in REGISTRY.items() if fmt.exporter is not None}
