"""Client (tenant) keys.

A client key becomes a path segment, a SQL literal (dbt var) and a Dagster partition key, so it is
validated against one strict pattern before it touches any of them.
"""

from __future__ import annotations

import re

CLIENT_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")


class InvalidClientKey(ValueError):
    """A client key that is not a slug; never used as a path, query value or partition."""


def validate_client_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid client slug, else raise :class:`InvalidClientKey`."""
    if not isinstance(key, str) or not CLIENT_KEY_PATTERN.fullmatch(key):
        raise InvalidClientKey(
            f"invalid client key {key!r}: expected lowercase letters, digits and underscores, "
            "starting with a letter or digit, at most 63 characters"
        )
    return key
