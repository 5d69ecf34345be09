"""The README and docs/: size, the two commands, links that resolve, no internal history."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub-style anchors of a markdown file's headings."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            out.add(slug)
    return out


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 12 * 1024
    assert "bash ops/setup.sh && .venv/bin/driftrec demo" in text
    assert "bash ops/test.sh" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        assert not target.startswith(("/", "file:")), f"{page.name}: absolute link {target}"
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        assert dest.exists(), f"{page.name}: {target} does not exist"
        assert PROJECT_ROOT in dest.parents or dest == PROJECT_ROOT, f"{page.name}: {target}"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{page.name}: no heading #{anchor} in {dest.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_internal_references(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for phrase in ("DESIGN.md", "../shared", "/work/", "this stop", "previous session"):
        assert phrase not in text, f"{page.name} mentions {phrase!r}"
