"""Publish the repository files the docs link to (an mkdocs hook).

The pages are read in two places: on GitHub, where a link such as
``../examples/pipeline_in_python.py`` opens the file, and on the built
site, where mkdocs knows only the files under ``docs/`` and, with
``--strict``, fails the build on such a link. This hook finds every
relative link from a page to a file outside ``docs/`` but inside the
repository, and copies that file into the site at the same place
(``examples/pipeline_in_python.py``), so the link works in both. A link
to a file that does not exist is left alone, and mkdocs reports it.

>>> sorted(linked_outside("See [the demo](../examples/x.py), [api](api.md), [w](https://a.example/)."))
['../examples/x.py']
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

# [text](target) and [text](target "title"); the target ends at space or ')'.
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)")


def linked_outside(markdown: str, page_dir: str = "") -> set[str]:
    """Targets of relative links in ``markdown`` that leave the docs directory.

    Each is normalised relative to the docs directory (``../examples/a.py``);
    ``page_dir`` is the page's directory inside it.

    >>> linked_outside("[a](../../examples/a.py#L3)", "delivery")
    {'../examples/a.py'}
    """
    found = set()
    for target in _LINK.findall(markdown):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
            continue  # a URL, an anchor on the same page, or a site-absolute path
        path = posixpath.normpath(posixpath.join(page_dir, target.split("#", 1)[0]))
        if path.startswith("../"):
            found.add(path)
    return found


def on_files(files: Files, config: Any) -> Files:
    """Add each linked repository file, published under its repository path."""
    docs_dir = Path(config["docs_dir"]).resolve()
    root = docs_dir.parent
    wanted: set[str] = set()
    for page in files.documentation_pages():
        text = Path(page.abs_src_path).read_text(encoding="utf-8")
        wanted |= linked_outside(text, posixpath.dirname(page.src_uri))
    for src_uri in sorted(wanted):
        source = (docs_dir / src_uri).resolve()
        if not source.is_file() or not source.is_relative_to(root):
            continue
        published = File(
            src_uri,
            src_dir=str(docs_dir),
            dest_dir=config["site_dir"],
            use_directory_urls=config["use_directory_urls"],
            dest_uri=source.relative_to(root).as_posix(),
            inclusion=InclusionLevel.INCLUDED,
        )
        files.append(published)
    return files
