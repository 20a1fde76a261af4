"""The leaderboard and attention viewer page (``app.py`` + ``static/``), shipped inside the package so
``vgmed eval serve`` reads nothing from a checkout. ``app.py`` imports only the standard library, ``datasets``,
``numpy`` and ``pillow``, never vgmed-data, so the same file also runs as the Hub Space on its own:
``scripts/space_bundle.py`` copies it with ``static/`` beside the Space files of ``space/``.
"""
