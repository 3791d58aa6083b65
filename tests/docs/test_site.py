"""The documentation site: mkdocs.yml's nav, the API reference, a strict build.

The build itself needs the ``docs`` extra (``pip install -e '.[docs]'``);
without it those tests are skipped and say so. The checks of the nav and of
the API reference page read files only, so they always run.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mailflow
import mailflow.testing

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"
API_PAGE = DOCS / "reference" / "python-api.md"

_MISSING = [m for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
            if importlib.util.find_spec(m.split(".")[0]) is None
            or (m.startswith("mkdocstrings_handlers") and importlib.util.find_spec(m) is None)]
needs_mkdocs = pytest.mark.skipif(
    bool(_MISSING), reason=f"docs extra not installed (no {', '.join(_MISSING)}): pip install -e '.[docs]'")


def _nav_pages() -> list[str]:
    """The page paths the nav names (``- Title: path.md`` lines)."""
    nav = MKDOCS_YML.read_text().split("\nnav:\n", 1)[1]
    return re.findall(r"^\s+- (?:[^\n]*?: )?([\w./-]+\.md)\s*$", nav, re.M)


def _documented() -> list[str]:
    """The ``::: dotted.path`` targets of the API reference page."""
    return re.findall(r"^::: ([\w.]+)$", API_PAGE.read_text(), re.M)


def test_nav_lists_every_page_once():
    """Each Markdown page under docs/ is in the nav exactly once, and each nav entry exists."""
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")
                   if "hooks" not in p.relative_to(DOCS).parts)
    nav = _nav_pages()
    assert sorted(nav) == pages
    assert len(nav) == len(set(nav))


def test_nav_has_the_four_kinds_in_order():
    """Tutorial, how-to guides, reference, explanation: the top of the nav."""
    top = re.findall(r"^  - ([^:\n]+):", MKDOCS_YML.read_text().split("\nnav:\n", 1)[1], re.M)
    assert top == ["Home", "Tutorial", "How-to guides", "Reference", "Explanation"]


def test_api_reference_documents_every_public_name():
    """Every name in mailflow.__all__ and mailflow.testing.__all__ is on the page, once,
    at the module that defines it (so mkdocstrings reads its docstring there)."""
    expected = []
    for package in (mailflow, mailflow.testing):
        for name in package.__all__:
            obj = getattr(package, name)
            module = obj.__module__ if isinstance(obj, type) or callable(obj) else package.__name__
            expected.append(f"{module}.{name}")
    documented = _documented()
    assert len(documented) == len(set(documented))
    assert sorted(documented) == sorted(set(expected))


def test_api_reference_targets_exist():
    """Each ``:::`` target imports: a renamed or moved name fails here, not only in the build."""
    for target in _documented():
        module, _, name = target.rpartition(".")
        assert hasattr(importlib.import_module(module), name), target


def test_readme_links_the_site_after_its_two_commands():
    """The README keeps its two commands first and links the site's entry page."""
    readme = (ROOT / "README.md").read_text()
    commands = [m.start() for m in re.finditer(r"^    python3 -m venv", readme, re.M)]
    assert len(commands) == 2
    link = readme.index("(docs/index.md)")
    assert link > commands[1]
    assert "mkdocs" in readme


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)


def _unrendered(site: Path) -> list[str]:
    """Lines of built paragraphs that still carry a list, table or fence marker."""
    found = []
    for page in sorted(site.rglob("*.html")):
        html = re.sub(r"(?s)<(pre|code)\b.*?</\1>", "", page.read_text())
        for paragraph in re.findall(r"(?s)<p>(.*?)</p>", html):
            found += [f"{page.relative_to(site)}: {line.strip()}" for line in paragraph.split("\n")
                      if re.match(r"\s*(([-*+]|\d+\.) \S|\|.*\|\s*$|```)", line)]
    return found


def test_unrendered_finds_list_markers_left_as_text(tmp_path):
    """The check above catches a nested list that did not render."""
    (tmp_path / "index.html").write_text(
        "<p>Steps:\n6. <strong>End</strong>\n- bounced</p><pre><code>- fine\n</code></pre>")
    assert _unrendered(tmp_path) == ["index.html: 6. <strong>End</strong>", "index.html: - bounced"]


@needs_mkdocs
def test_site_builds_strict(tmp_path):
    """``mkdocs build --strict`` succeeds: no broken link or anchor, every page in the nav,
    and the API reference is rendered from the docstrings."""
    site = tmp_path / "site"
    result = _build(MKDOCS_YML, site)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert (site / "index.html").is_file()
    api = (site / "reference" / "python-api" / "index.html").read_text()
    for target in _documented():
        assert f'id="{target}"' in api, target
    # Docstrings arrive as Markdown: doctests as code, Sphinx roles as code spans.
    assert '<span class="gp">&gt;&gt;&gt; </span>' in api      # a highlighted prompt
    assert ":class:" not in api and ":meth:" not in api and "<blockquote>" not in api
    # A role naming a documented object links to it (QueueStore from FileQueueStore's methods).
    assert 'href="#mailflow.interfaces.QueueStore"' in api
    # Markdown that GitHub renders but Python-Markdown does not (a list nested by
    # fewer than four spaces, a list item glued to a paragraph) leaves its
    # markers as text in a paragraph.
    assert _unrendered(site) == []
    # A repository file a page links to is published where the link points.
    page = (site / "python-api" / "index.html").read_text()
    assert 'href="../examples/pipeline_in_python.py"' in page
    assert (site / "examples" / "pipeline_in_python.py").read_bytes() == \
        (ROOT / "examples" / "pipeline_in_python.py").read_bytes()


@needs_mkdocs
def test_site_build_fails_on_a_broken_link(tmp_path):
    """The strict build is a real check: a link to a missing page fails it."""
    shutil.copy(MKDOCS_YML, tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    for name in ("mailflow", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    with open(tmp_path / "docs" / "tutorial.md", "a") as page:
        page.write("\nSee [the missing page](no-such-page.md).\n")
    result = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr


@needs_mkdocs
@pytest.mark.parametrize("hook", ["docstrings", "repo_links"])
def test_hook_doctests(hook, monkeypatch):
    """The site's hooks (docs/hooks/) pass their own doctests."""
    monkeypatch.syspath_prepend(str(DOCS / "hooks"))
    module = importlib.import_module(hook)
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
