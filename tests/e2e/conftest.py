"""Fixtures for end-to-end tests: a configured, running mail system per test.

The daemon is always stopped when the test ends, and the fixture fails the
test if any process of the mail system is left behind (see e2e_helpers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from e2e_helpers import Mta, shut_down, write_config


@pytest.fixture
def make_mta(tmp_path: Path) -> Iterator[Callable[..., Mta]]:
    """``make_mta(main_extra=..., master_extra=..., aliases=..., transport=...,
    start=True)``: a configured (and started) mail system; always stopped and
    checked for leftover processes at the end of the test."""
    made: list[Mta] = []

    def make(*, start: bool = True, name: str = "mta", **kw: str) -> Mta:
        mta = write_config(tmp_path / name, **kw)
        made.append(mta)
        if start:
            mta.start()
        return mta
    yield make
    for mta in made:
        shut_down(mta)


@pytest.fixture
def mta(make_mta) -> Mta:
    """A running mail system with the base configuration (virtual Maildirs,
    local mbox, aliases, a pipe transport)."""
    return make_mta()
