"""Limits a user can raise: what a small file may make lutcli allocate or read.

Each limit has a default that fits every ordinary use, and an environment variable that raises
(or lowers) it, so a hostile or mistaken file is refused in milliseconds instead of exhausting
memory, while a user who means it can go further.
"""

from __future__ import annotations

import os

from lutcli.errors import LutcliError


def environment_limit(variable: str, default: int) -> int:
    """The positive integer in the environment variable ``variable``, else ``default``."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text.replace("_", ""))  # 200_000_000 reads as Python writes it
    except ValueError:
        value = 0
    if value < 1:
        raise LutcliError(f"{variable}={text!r} is not a whole number above 0")
    return value
