"""Evaluation results on the Hub: the typed results format (:mod:`.schema`), reading a run folder
(:mod:`.collect`), the results folder layout and card (:mod:`.folder`), appending to a Hub dataset
(:mod:`.publish`), Hub jobs (:mod:`.jobs`) and the ``vgmed eval publish | serve`` commands (:mod:`.cli`).
The page itself lives in ``space/`` (docs/leaderboard.md)."""
