"""Benchmarks and the seeded generator of labelled multi-source data (`make bench`)."""
