"""Entry point of the ``pana`` command: the library's commands plus ``pana run`` (Prefect)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from pana_data.cli import CatalogOption, app
from pana_data.pipeline import DEFAULT_OUT


@app.command()
def run(
    catalog: CatalogOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = DEFAULT_OUT,
    local: Annotated[
        bool, typer.Option("--local", help="Run the stages in this process, without Prefect.")
    ] = False,
) -> None:
    """Harvest, validate, deduplicate and publish a new version."""
    if local:
        from pana_data.pipeline import run_pipeline

        version = run_pipeline(catalog, out)
    else:
        # Offline by default: no telemetry from the temporary Prefect server.
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("DO_NOT_TRACK", "1")
        from flows.pipeline import pipeline

        version = pipeline(str(catalog) if catalog else None, str(out))
    typer.echo(f"published {version}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
