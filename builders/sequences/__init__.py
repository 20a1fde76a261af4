"""Sequence grounding (MedSG-style multi-image tasks) built reproducibly from open sources.

One module per task recipe (``registered_difference``, ``non_registered_difference``, ``multi_view``,
``object_tracking``, ``visual_concept``, ``visual_patch``, ``cross_modal``, ``referring``), the assembler
(:mod:`vgmed_data.builders.sequences.build`), MedSG-Bench JSON interop (:mod:`vgmed_data.builders.sequences.medsg`) and the
``vgmed build sequences`` command (:mod:`vgmed_data.builders.sequences.cli`). See docs/sequences.md.
"""
