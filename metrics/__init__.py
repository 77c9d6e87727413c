"""Local `evaluate` modules shipped with KoGNER (loaded by path, no Hub access needed)."""
