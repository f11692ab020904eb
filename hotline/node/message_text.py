"""What a message is: the kinds of entry that are messages (a person's words, free or
agreed), and how long a message's text may be: the one limit on what a person writes
to the other side (a message, an emergency activation, a verified translation), which
the node checks and the forms that take such a text announce."""

from __future__ import annotations

from ..protocol.kinds import Kind

MESSAGE_KINDS = frozenset({Kind.MESSAGE, Kind.AGREED_TEXT})
MAX_TEXT_CHARS = 32_000
