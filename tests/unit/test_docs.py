"""The docs stay true: the CLI reference is what --help says today, and every command is documented."""

from pathlib import Path

from analyzer.cli_reference import reference

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text() == reference(), (
        "docs/cli.md is stale: run  python -m analyzer.cli_reference > docs/cli.md"
    )


def test_user_guide_links_every_page() -> None:
    index = (DOCS / "README.md").read_text()
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"
