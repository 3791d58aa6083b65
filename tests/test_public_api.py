"""The public surface: every name in ``mailflow.__all__`` is there, documented
and cheap to import, and the public modules' docstring examples run."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import mailflow

ROOT = Path(__file__).resolve().parents[1]

# The modules the public names come from, plus the package and the test kit.
PUBLIC_MODULES = sorted({"mailflow", "mailflow.testing",
                         *(getattr(mailflow, n).__module__ for n in mailflow.__all__)})


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (import state untouched by this session)."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("name", mailflow.__all__)
def test_public_name_is_importable(name):
    """``from mailflow import NAME`` works for every name in ``__all__``."""
    namespace: dict = {}
    exec(f"from mailflow import {name}", namespace)
    assert namespace[name] is getattr(mailflow, name)


@pytest.mark.parametrize("name", mailflow.__all__)
def test_public_name_has_a_docstring(name):
    """Every public name says what it is in its own docstring."""
    obj = getattr(mailflow, name)
    assert (inspect.getdoc(obj) or "").strip(), name


@pytest.mark.parametrize("name", mailflow.__all__)
def test_public_name_comes_from_a_mailflow_module(name):
    """Each public name is re-exported from the module that implements it, not redefined."""
    obj = getattr(mailflow, name)
    assert obj.__module__.startswith("mailflow.")
    assert getattr(importlib.import_module(obj.__module__), name) is obj


def test_all_is_sorted_and_unique():
    """``__all__`` lists each name once, in order, so a diff shows what changed."""
    assert mailflow.__all__ == sorted(set(mailflow.__all__))


def test_unknown_name_is_an_attribute_error():
    """A name that is not exported raises AttributeError with the name in it."""
    with pytest.raises(AttributeError, match="no_such_thing"):
        mailflow.no_such_thing  # noqa: B018


def test_dir_lists_the_public_names():
    """``dir(mailflow)`` shows the public names before any of them is used."""
    assert set(mailflow.__all__) <= set(dir(mailflow))


def test_import_mailflow_imports_only_the_submit_module():
    """``import mailflow`` loads only mailflow.submit besides itself, and neither attrs nor asyncio (sendmail starts fast)."""
    out = run_python("import sys, mailflow; "
                     "print(sorted(m for m in sys.modules if m.startswith('mailflow') "
                     "or m in ('attrs', 'asyncio')))")
    assert out == "['mailflow', 'mailflow.submit']"


def test_using_one_name_imports_only_its_module():
    """Using ``mailflow.DsnStatus`` does not load the queue manager or asyncio."""
    out = run_python("import sys, mailflow; mailflow.DsnStatus; "
                     "print('mailflow.services.qmgr' in sys.modules, 'asyncio' in sys.modules)")
    assert out == "False False"


@pytest.mark.parametrize("code", [
    pytest.param("import mailflow.submit, mailflow", id="module-imported-first"),
    pytest.param("import mailflow; mailflow.submit; import mailflow.submit", id="function-used-first"),
    pytest.param("from mailflow.submit import submit; import mailflow", id="from-import-first"),
])
def test_mailflow_submit_is_always_the_function(code):
    """``mailflow.submit`` is the function whatever imported the module mailflow.submit before."""
    out = run_python(f"{code}; import inspect; "
                     "print(inspect.isfunction(mailflow.submit), inspect.isfunction(mailflow.submit_async))")
    assert out == "True True"


def test_mailflow_explain_is_the_function_and_its_module_is_in_address():
    """``mailflow.explain`` is the function; its module is mailflow.address.explain, no other."""
    out = run_python("import mailflow.address.explain, mailflow, importlib.util, inspect; "
                     "print(inspect.isfunction(mailflow.explain), mailflow.explain.__module__, "
                     "importlib.util.find_spec('mailflow.explain') is None)")
    assert out == "True mailflow.address.explain True"


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_public_module_doctests_run(module):
    """The examples in the docstrings of every public module run as shown."""
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_pipeline_example_runs():
    """examples/pipeline_in_python.py explains, queues and delivers to a Maildir and its own agent."""
    out = run_python("import runpy; runpy.run_path('examples/pipeline_in_python.py', "
                     "run_name='__main__')")
    lines = out.splitlines()
    assert lines[:2] == ["explain: ann@example.com -> virtual:example.com",
                         "explain: orders@partner.example -> archive:partner.example"]
    assert lines[-2:] == ["maildir: 1 message(s) for ann", "archive: 1 message(s) kept"]
    assert any(re.search(r" mailflow/virtual\[\d+\]: \w+: to=<ann@example.com>, relay=virtual, "
                         r".*status=sent \(delivered to maildir\)$", line) for line in lines)


DOCS = ROOT / "docs"


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S)


def test_python_api_page_examples_run(tmp_path, monkeypatch):
    """Every Python block of docs/python-api.md runs, in order, and its assertions hold."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    namespace: dict = {}
    blocks = python_blocks("python-api.md")
    assert len(blocks) >= 5
    for i, code in enumerate(blocks):
        exec(compile(code, f"python-api.md#{i}", "exec"), namespace)


def test_python_api_page_lists_every_public_name():
    """The table of public names on docs/python-api.md names everything in __all__."""
    text = (DOCS / "python-api.md").read_text()
    missing = [n for n in mailflow.__all__ if f"`{n}`" not in text]
    assert missing == []


def index_links() -> list[str]:
    return re.findall(r"\]\(([^)#]+\.md)\)", (DOCS / "index.md").read_text())


def test_docs_index_links_every_page():
    """docs/index.md links each Markdown page under docs/ (so none is hidden)."""
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - {"index.md"}
    assert pages - set(index_links()) == set()


@pytest.mark.parametrize("link", index_links())
def test_docs_index_link_resolves(link):
    """Every page docs/index.md links to exists."""
    assert (DOCS / link).is_file()


def test_version_matches_the_package_metadata():
    """mailflow.__version__ is the version setup.cfg publishes."""
    import configparser
    meta = configparser.ConfigParser()
    meta.read(ROOT / "setup.cfg")
    assert mailflow.__version__ == meta["metadata"]["version"]
