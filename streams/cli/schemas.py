"""``driftrec schemas``: write the JSON Schemas of the topic values and the OpenAPI document of
the worker's HTTP views (the repository keeps both in ``schemas/``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.messages.schemas import SCHEMAS, render


def render_openapi() -> str:
    """The text of ``schemas/openapi.json``."""
    from streams.worker.openapi import openapi_document

    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> text of every file of ``schemas/``."""
    files = {f"{name}.json": render(name) for name in SCHEMAS}
    files["openapi.json"] = render_openapi()
    return files


@click.command("schemas")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=Path("schemas"))
def schemas(folder: Path) -> None:
    """Write one JSON Schema per topic value and openapi.json into FOLDER."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        click.echo(str(path))
