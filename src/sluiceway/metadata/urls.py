"""Database URLs in messages: never show a password.

Every message, log line and `repr` that names a store goes through ``redact_url`` (one URL) or
``redact_text`` (free text that may contain URLs, such as a driver's own error message).
"""

from __future__ import annotations

import re

# scheme://user:password@host → scheme://user:***@host; the user name stays (it helps to say who connected).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s/]*)@")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (``postgresql://app:***@db/x``); other URLs unchanged."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", str(url))


def redact_text(text: str) -> str:
    """Free text with the password of every URL in it replaced by ``***``."""
    return redact_url(text)
