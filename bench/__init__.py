"""Benchmarks: `./dev bench` runs them all; each is also `python -m bench.<name>`."""
