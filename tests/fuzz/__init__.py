"""Fuzz suite: seeded mutated study folders, study configs and analysis configs, run in-process through
``load_study`` / ``analyze`` and classified (see ``generate`` for the mutation classes, ``runner`` for the
outcomes).  ``benchmarks/fuzz.py`` runs the long campaign; ``test_fuzz.py`` is the CI sample."""
