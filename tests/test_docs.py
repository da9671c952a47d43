"""Docs are tested: generated references are fresh and the README names every command."""

import re

from typer.testing import CliRunner

from flows.cli import app
from pana_data import artifacts
from pana_data.cli import cli_reference
from tests.helpers import ROOT


def command_paths() -> list[str]:
    doc = cli_reference(app)
    return re.findall(r"^## `(pana [^`]+)`", doc, flags=re.M)


def test_generated_docs_and_schemas_are_fresh():
    assert artifacts.stale(ROOT, extra={artifacts.CLI_DOC: cli_reference(app)}) == []


def test_readme_opens_with_the_two_commands_and_names_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = "\n".join(readme.splitlines()[:15])
    assert "make run" in head and "make test" in head
    paths = command_paths()
    assert {"pana run", "pana schema generate", "pana catalog check"} <= set(paths)
    missing = [p for p in paths if p not in readme]
    assert missing == [], f"README does not mention {missing}"


def test_cli_schema_check_and_catalog_check(tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["schema", "check", "--root", str(ROOT)]).exit_code == 0
    artifacts.write(tmp_path)
    (tmp_path / "vocab" / "codelists.ttl").write_text("stale\n")
    result = runner.invoke(app, ["schema", "check", "--root", str(tmp_path)])
    assert result.exit_code == 1 and "vocab/codelists.ttl" in result.output

    ok = runner.invoke(app, ["catalog", "check"])
    assert ok.exit_code == 0 and "lamednum-nouvelle-aquitaine" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "sources:\n  - {id: x, kind: nope, url: missing.csv, licence: y, mapping: {name: A}}\n"
    )
    result = runner.invoke(app, ["catalog", "check", "--catalog", str(bad)])
    assert result.exit_code == 2
    assert "source x: mapping: not schema fields: name" in result.output
    bad.write_text("sources:\n  - {id: x, kind: nope, url: missing.csv, licence: y}\n")
    result = runner.invoke(app, ["catalog", "check", "--catalog", str(bad)])
    assert result.exit_code == 1
    assert "unknown source kind 'nope'" in result.output and "file not found" in result.output


def test_every_environment_setting_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = "\n".join(p.read_text() for p in (ROOT / "pana_data").rglob("*.py"))
    settings = set(re.findall(r"os\.environ\.get\([\"'](PANA_\w+)[\"']", code))
    assert settings, "no PANA_ setting found: is the pattern still right?"
    assert [s for s in sorted(settings) if f"`{s}`" not in readme] == []
