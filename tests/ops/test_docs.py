"""The documentation: README.md is the front page, docs/ the reference, built by MkDocs.

`mkdocs build --strict` fails on any warning, and mkdocs.yml's `validation` makes a link to a missing
page or anchor, an absolute link and an unrecognised link warnings (MkDocs 1.6), so the build is the
link check inside docs/. README.md is outside docs_dir: its links into docs/ are checked here, against
the anchors of the built pages. Issue 22 asks for every page to be in the nav and linked from README.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CONFIG = ROOT / "mkdocs.yml"

# A markdown link's target: [text](target), the target without spaces (none of ours has any).
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~)")
_HEADING_ID = re.compile(r'<h[1-6] id="([^"]+)"')
# A docs page named anywhere in the repository (comments, docstrings, the config).
_DOCS_PATH = re.compile(r"\bdocs/[\w-]+\.md\b")


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of ``config`` into ``site``: its output, warnings included."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation built from the repository as it is."""
    out = tmp_path_factory.mktemp("site")
    done = build(CONFIG, out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, done.stdout + done.stderr
    return out


def pages() -> set[str]:
    return {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}


def nav_pages(nav: object) -> set[str]:
    """Every page the nav lists, at any depth (entries are `title: page` or `title: [entries]`)."""
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(nav_pages(entry) for entry in nav))
    if isinstance(nav, dict):
        return set().union(*(nav_pages(value) for value in nav.values()))
    return set()


def links(markdown: str) -> list[str]:
    """The targets of the markdown links outside fenced code blocks (code shows links, it makes none)."""
    return [target for line in prose_lines(markdown) for target in _LINK.findall(line)]


def prose_lines(markdown: str) -> list[str]:
    lines, fenced = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def headings(markdown: str) -> list[str]:
    return [line.lstrip("#").strip() for line in prose_lines(markdown) if re.match(r"#{1,6} ", line)]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, each space a hyphen."""
    text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower())
    return text.replace(" ", "-")


def anchors(site: Path, page: str) -> set[str]:
    """The heading ids of a built page (use_directory_urls: false, so docs/a.md is site/a.html)."""
    return set(_HEADING_ID.findall((site / page).with_suffix(".html").read_text()))


def broken_readme_links(readme: str, site: Path) -> list[str]:
    """README.md's relative links whose file, or whose anchor in a docs page, does not exist."""
    broken = []
    for target in links(readme):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        if not path:  # an anchor of the README itself
            if anchor not in {github_anchor(h) for h in headings(readme)}:
                broken.append(target)
            continue
        file = (ROOT / path).resolve()
        in_docs = file.is_relative_to(DOCS)
        if not file.exists() or (anchor and in_docs and anchor not in anchors(site, file.relative_to(DOCS).as_posix())):
            broken.append(target)
    return broken


def test_the_config_keeps_strict_link_checking() -> None:
    """Without `strict` warnings pass; at `info` a broken link or anchor is not even a warning."""
    config = yaml.safe_load(CONFIG.read_text())
    assert config["strict"] is True
    assert config["validation"] == {
        "omitted_files": "warn",
        "not_found": "warn",
        "absolute_links": "warn",
        "unrecognized_links": "warn",
        "anchors": "warn",
    }
    assert config.get("docs_dir", "docs") == "docs"


def test_the_docs_build_without_a_warning(site: Path) -> None:
    assert (site / "index.html").exists()
    assert {page for page in pages() if not (site / page).with_suffix(".html").exists()} == set()


@pytest.mark.parametrize(
    ("page", "line", "warning"),
    [
        ("errors.md", "[a page](no-such-page.md)", "no-such-page.md"),
        ("errors.md", "[an anchor](health.md#no-such-anchor)", "#no-such-anchor"),
        ("errors.md", "[an anchor](#no-such-anchor)", "#no-such-anchor"),
        ("errors.md", "[absolute](/errors.md)", "/errors.md"),
    ],
)
def test_a_broken_link_fails_the_build(tmp_path: Path, page: str, line: str, warning: str) -> None:
    """The check itself: the repository's config, on a copy of docs/ with one broken link added."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(CONFIG, tmp_path / "mkdocs.yml")
    with (tmp_path / "docs" / page).open("a") as handle:
        handle.write(f"\n{line}\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "WARNING" in done.stderr, done.stderr
    assert warning in done.stderr, done.stderr


def test_a_page_left_out_of_the_nav_fails_the_build(tmp_path: Path) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(CONFIG, tmp_path / "mkdocs.yml")
    (tmp_path / "docs" / "orphan.md").write_text("# Orphan\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "orphan.md" in done.stderr, done.stderr


def test_every_page_is_in_the_nav() -> None:
    listed = nav_pages(yaml.safe_load(CONFIG.read_text())["nav"])
    assert listed == pages()


def test_every_page_is_linked_from_the_readme() -> None:
    linked = {target.partition("#")[0] for target in links(README.read_text())}
    assert {f"docs/{page}" for page in pages()} - linked == set()


def test_the_readmes_links_resolve(site: Path) -> None:
    readme = README.read_text()
    assert sum(target.startswith("docs/") for target in links(readme)) >= len(pages())
    assert broken_readme_links(readme, site) == []


def test_a_broken_readme_link_is_found(site: Path) -> None:
    """The check itself: a missing page, a missing anchor of a page and of the README are reported."""
    readme = "# Front\n\n[a](docs/errors.md#no-such) [b](docs/no-such.md)\n"
    readme += "[c](#front) [d](#no-such) [e](docs/errors.md)\n"
    assert broken_readme_links(readme, site) == ["docs/errors.md#no-such", "docs/no-such.md", "#no-such"]
    # Code blocks show links without making them.
    assert broken_readme_links("```\n[x](docs/no-such.md)\n```\n", site) == []


def test_headings_have_the_same_anchor_on_github(site: Path) -> None:
    """README.md's links to docs/page.md#anchor are followed on GitHub as well as on the built site."""
    for page in sorted(pages()):
        expected = {github_anchor(heading) for heading in headings((DOCS / page).read_text())}
        assert anchors(site, page) == expected, page


def test_github_anchor() -> None:
    assert github_anchor("Speed: the session runtime") == "speed-the-session-runtime"
    assert github_anchor("Keys, budgets and spend (PostgreSQL)") == "keys-budgets-and-spend-postgresql"
    assert github_anchor("Per-key shares") == "per-key-shares"


def test_every_docs_page_named_in_the_repository_exists() -> None:
    """Comments and docstrings that point at docs/<page>.md (as README.md's sections once were) stay true."""
    skip = {".git", ".venv", "site", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    suffixes = {".py", ".md", ".yaml", ".yml", ".sh", ".toml", ".txt"}
    named: dict[str, set[str]] = {}
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [name for name in dirs if name not in skip]  # not into the venv's thousands of files
        for file in files:
            path = Path(top) / file
            # This file names missing pages on purpose, to see them reported.
            if (path.suffix not in suffixes and file != "Dockerfile") or path == Path(__file__).resolve():
                continue
            for name in _DOCS_PATH.findall(path.read_text(errors="replace")):
                named.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert "config/litellm_config.yaml" in named["docs/configuration.md"]  # the scan reads the config's comment
    assert {name: files for name, files in named.items() if not (ROOT / name).exists()} == {}
