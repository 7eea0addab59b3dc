"""The one exception type for user-facing mistakes.

Library code raises :class:`FlashgenError` (a ``ValueError``) with a message a user can act on;
the CLI turns it into ``flashgen: error: <message>`` and exit code 2.
"""

from __future__ import annotations

__all__ = ["FlashgenError"]


class FlashgenError(ValueError):
    """A user error: bad input, missing or corrupt file, inconsistent options."""
