"""pana-data: harvest, deduplicate and publish the PANA actor map as open data.

The library never imports Prefect: orchestration lives in the top-level ``flows`` package.
"""

__version__ = "0.1.0"
