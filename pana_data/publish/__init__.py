"""Publishing: exporters registry and versioned, atomic releases."""

from .exporters import EXPORTERS, Release, exporter
from .versions import publish, read_versions

__all__ = ["EXPORTERS", "Release", "exporter", "publish", "read_versions"]
