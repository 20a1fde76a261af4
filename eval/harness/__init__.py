"""Exports for other evaluation harnesses (``vgmed export lmms-eval``, ``vgmed export vlmevalkit``).

They live in ``eval`` because exported tasks score with the evaluator's own prompts, answer matching and box
scoring; ``vgmed export`` (the format catalogue, builders/formats.py) names their commands by string.
"""
