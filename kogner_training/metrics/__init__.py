"""Local `evaluate` modules shipped with KoGNER (loaded by path, no Hub access needed).

Nested in ``kogner_training`` so that no generic top-level ``metrics`` package is installed.
"""
