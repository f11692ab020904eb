"""How long a message's text may be: the one limit on what a person writes to the
other side (a message, an emergency activation, a verified translation), which the
node checks and the forms that take such a text announce."""

from __future__ import annotations

MAX_TEXT_CHARS = 32_000
