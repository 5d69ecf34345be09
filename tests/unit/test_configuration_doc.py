"""docs/configuration.md is generated from the Settings object and must list every variable."""

from __future__ import annotations

from click.testing import CliRunner

from streams.cli.main import cli
from streams.cli.settingsdoc import accepted, env_name, render_configuration
from streams.settings import PROJECT_ROOT, Settings

DOC = PROJECT_ROOT / "docs" / "configuration.md"


def test_committed_configuration_doc_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_configuration(), (
        "docs/configuration.md is out of date: run `driftrec config docs > docs/configuration.md`"
    )


def test_every_setting_is_listed_with_a_description() -> None:
    text = render_configuration()
    for name, info in Settings.model_fields.items():
        assert f"| `{env_name(name)}` |" in text
        assert info.description, f"Settings.{name} has no description"


def test_accepted_values_in_words() -> None:
    assert accepted("partitions") == "an integer >= 1, <= 1024"
    assert accepted("rebuild") == "one of lazy, background"
    assert accepted("kafka_ssl_cafile") == "a path; unset for the default"
    assert accepted("watch_registry") == "true or false"


def test_cli_prints_the_document() -> None:
    result = CliRunner().invoke(cli, ["config", "docs"])
    assert result.exit_code == 0
    assert result.output == render_configuration()
