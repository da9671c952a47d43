"""The ``pana`` command line: thin commands over the library.

Orchestrated commands (``pana run``) are added by ``flows.cli``, so the library never imports
Prefect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import __version__, artifacts
from .catalog import CatalogError, load_catalog
from .sources import KINDS

app = typer.Typer(
    help="pana-data: harvest, deduplicate and publish the PANA actor map as open data.",
    no_args_is_help=True,
    add_completion=False,
)
schema_app = typer.Typer(help="Generated artifacts of the open schema.", no_args_is_help=True)
catalog_app = typer.Typer(help="Source catalogs.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(catalog_app, name="catalog")

CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", "-c", help="Catalog YAML file (default: the bundled demo)."),
]
RootOption = Annotated[
    Path, typer.Option("--root", help="Project root holding schemas/ and vocab/.")
]


@app.command()
def version() -> None:
    """Print the version of pana-data."""
    typer.echo(__version__)


@schema_app.command("generate")
def schema_generate(root: RootOption = Path(".")) -> None:
    """Write JSON Schema, Table Schema and SKOS code lists from the models."""
    for path in artifacts.write(root):
        typer.echo(f"wrote {path}")


@schema_app.command("check")
def schema_check(root: RootOption = Path(".")) -> None:
    """Fail when a committed artifact differs from a fresh generation."""
    stale = artifacts.stale(root)
    for rel in stale:
        typer.echo(f"stale: {rel} (run `pana schema generate`)", err=True)
    raise typer.Exit(1 if stale else 0)


@catalog_app.command("check")
def catalog_check(catalog: CatalogOption = None) -> None:
    """Validate a catalog: its fields, its kinds and that local files exist."""
    try:
        cat = load_catalog(catalog)
    except CatalogError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    problems = []
    for spec in cat.sources:
        if spec.kind not in KINDS:
            problems.append(f"source {spec.id}: unknown kind {spec.kind!r}")
        location = cat.location(spec)
        if not location.startswith(("http://", "https://")) and not Path(location).exists():
            problems.append(f"source {spec.id}: file not found: {location}")
    for spec in cat.sources:
        typer.echo(f"{spec.id}\t{spec.kind}\t{spec.frequency}\t{spec.url}")
    for problem in problems:
        typer.echo(problem, err=True)
    raise typer.Exit(1 if problems else 0)
