"""The ``json:`` table type: a JSON object of string keys and values.

``json:/etc/mailflow/transport.json`` opens the file once; keys are looked
up lower-cased, as Postfix's indexed tables fold them (``postmap -f``'s
``fold=False`` keeps the case).
"""

from __future__ import annotations

import json
from typing import Any

from mailflow.errors import TableError


class JsonTable:
    """A read-only Table over one JSON file."""

    def __init__(self, path: str, *, fold: bool = True) -> None:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as exc:
            raise TableError(f"json:{path}: cannot open: {exc.strerror}") from None
        except ValueError as exc:
            raise TableError(f"json:{path}: not JSON: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise TableError(f"json:{path}: expected one object of string values")
        self.fold = fold
        self.data = {(k.lower() if fold else k): v for k, v in data.items()}

    def get(self, key: str) -> str | None:
        return self.data.get(key.lower() if self.fold else key)


def open_json_table(name: str, config: Any, *, fold: bool = True) -> JsonTable:
    """The opener mailflow calls for ``json:NAME``."""
    return JsonTable(name, fold=fold)
