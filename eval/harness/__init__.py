"""Exports for other evaluation harnesses (``vgmed export lmms-eval``, ``vgmed export vlmevalkit``).

They live in ``eval`` because exported tasks score with the evaluator's own prompts, answer matching and box
scoring; ``vgmed export`` (builders/cli.py, ``EXPORT_COMMANDS``) names their commands by string.
"""
