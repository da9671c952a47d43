"""Prefect orchestration of the pana-data library: thin flows and tasks, one-way imports."""
