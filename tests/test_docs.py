"""The project speaks for itself: every docs page it points to exists, and the catalog page lists the catalog."""
from __future__ import annotations

import re
from pathlib import Path

import symdual as sd

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*ROOT.glob("symdual/**/*.py"), *ROOT.glob("derivations/*"), *ROOT.glob("paper_figures/*"),
           *ROOT.glob("benchmarks/*.py"), ROOT / "README.md", *ROOT.glob("docs/*.md")]


def test_every_docs_reference_exists_and_no_external_spec_is_cited():
    for path in SOURCES:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "MATH.md" not in text, path
        for page in re.findall(r"docs/([a-z_]+\.md)", text):
            assert (ROOT / "docs" / page).is_file(), (path, page)


def test_the_catalog_page_lists_every_entry_with_its_citation():
    page = (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    for e in sd.catalog.entries():
        row = next((line for line in page.splitlines() if line.startswith(f"| `{e.name}` |")), None)
        assert row is not None, e.name
        assert e.citation in row and e.title in row, (e.name, row)


def test_a_license_matches_the_package_metadata():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and 'license = {text = "MIT"}' in (ROOT / "pyproject.toml").read_text()
