"""Entry point of the ``pana`` command: the library's commands plus ``pana run`` (Prefect)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pana_data.catalog import CatalogError, load_catalog
from pana_data.cli import CatalogOption, app
from pana_data.pipeline import DEFAULT_OUT, NothingToPublish, Workspace, run_pipeline

from .runners import Runner, RunnerError, run_flow, use_prefect


@app.command()
def run(
    catalog: CatalogOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = DEFAULT_OUT,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--local",
            help="Run the Prefect pipeline flow, or the same stages in this process. "
            "Default: Prefect when a server is set (PREFECT_API_URL: environment, profile, "
            "or this folder's .env, prefect.toml or pyproject.toml).",
            show_default=False,
        ),
    ] = None,
    task_runner: Annotated[
        Runner,
        typer.Option(
            "--task-runner", help="Where the flow runs harvests and parses: thread or dask."
        ),
    ] = Runner.thread,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            help="Scheduler of an existing Dask cluster (tcp://host:8786); default: a local one.",
        ),
    ] = None,
    dask_workers: Annotated[
        int, typer.Option("--dask-workers", min=1, help="Processes of the local Dask cluster.")
    ] = 2,
) -> None:
    """Harvest, validate, deduplicate and publish a new version."""
    try:
        load_catalog(catalog)  # a broken catalog fails here, before any server starts
        if use_prefect(prefect, task_runner):
            # Absolute paths: Dask workers elsewhere resolve nothing against this folder.
            path = str(catalog.resolve()) if catalog else None
            version = run_flow(path, str(out.resolve()), task_runner, dask_address, dask_workers)
        else:
            if prefect is None:
                typer.echo(
                    "no Prefect server set (PREFECT_API_URL): running the stages in this "
                    "process; see `make server`, or --prefect for a temporary server",
                    err=True,
                )
            version = run_pipeline(catalog, out)
    except (CatalogError, NothingToPublish, RunnerError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    print_summary(Path(version))


def print_summary(version: Path) -> None:
    """What a maintainer wants to see after a run: where, how many, and which sources failed."""
    report = json.loads((version / "report.json").read_text(encoding="utf-8"))
    last_run = Workspace(version.parent).last_run
    run = json.loads(last_run.read_text(encoding="utf-8")) if last_run.exists() else {}
    if run.get("new_version") is False:
        typer.echo(f"unchanged since {version.name}: no new version, {version} stays the latest")
    else:
        typer.echo(f"published {version}")
    typer.echo(
        f"  {report['actors']} actors from {report['records']} records; "
        f"{report['rejected_records']} rejected, {report['warnings']} warnings"
    )
    for source in run.get("sources") or report["sources"]:  # this run's, not the version's
        line = f"  {source['status']:<6} {source['source_id']}"
        enriched = report.get("registers", {}).get(source["source_id"])
        if source.get("entries") is not None:  # a register: what it verified, what it let in
            line += f": {source['entries']} register entries, {source['accepted']} included"
            if enriched:
                line += (
                    f"; {enriched['matched']} actors matched, {enriched['closed']} closed, "
                    f"{enriched['rna_filled'] + enriched['siren_filled']} crosswalks filled"
                )
        elif "rows" in source:
            line += f": {source['rows']} rows, {source['accepted']} accepted, {source['rejected']} rejected"
        if source.get("downloaded"):
            line += f", {source['downloaded']:,} bytes downloaded"
        if source.get("error"):
            line += f" ({source['error']})"
        typer.echo(line)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
