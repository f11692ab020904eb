"""Why the language library refused something. One tree, stable codes::

    LanguageError (ValueError)
    ├── Refused          one value or message body; names the parameter or field
    └── InvalidDocument  a phrasebook or glossary; lists every problem, each naming
                         the entry (or term) and the field

``reason`` is stable (the console maps it to text in each language); ``detail`` is
English prose for logs and for the translators who edit the data files.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    # A parameter value.
    WRONG_TYPE = "wrong_type"
    BAD_FORMAT = "bad_format"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_OPTION = "unknown_option"
    UNKNOWN_UNIT = "unknown_unit"
    # A message body built from an entry.
    NOT_A_MESSAGE = "not_a_message"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_ENTRY = "unknown_entry"
    WRONG_VERSION = "wrong_version"
    MISSING_PARAMETER = "missing_parameter"
    UNEXPECTED_PARAMETER = "unexpected_parameter"
    UNKNOWN_LANGUAGE = "unknown_language"
    # A phrasebook or glossary document.
    MALFORMED = "malformed"
    MISSING_LANGUAGE = "missing_language"
    PARAMETER_MISMATCH = "parameter_mismatch"
    UNKNOWN_TYPE = "unknown_type"
    DUPLICATE_ID = "duplicate_id"
    BAD_ENUM = "bad_enum"
    BAD_TEMPLATE = "bad_template"
    BAD_CONSTRAINT = "bad_constraint"
    UNKNOWN_CATEGORY = "unknown_category"


class LanguageError(ValueError):
    """Base of every refusal in :mod:`hotline.language`."""


class Refused(LanguageError):
    """A value, or a message body, that is refused. ``parameter`` names the parameter
    (or the body's field) at fault, when one is."""

    def __init__(self, reason: Reason, detail: str, *, parameter: str | None = None) -> None:
        where = f"{parameter}: " if parameter else ""
        super().__init__(f"{where}{detail} ({reason})")
        self.reason, self.detail, self.parameter = reason, detail, parameter


@dataclass(frozen=True)
class Problem:
    """One fault in a document: ``where`` is the entry or term id (or ``"(document)"``),
    ``field`` a dotted path inside it, e.g. ``text.zh-Hans`` or ``parameters.course``."""

    where: str
    field: str
    reason: Reason
    detail: str

    def __str__(self) -> str:
        return f"{self.where}, {self.field}: {self.detail} ({self.reason})"


class InvalidDocument(LanguageError):
    """A phrasebook or glossary that does not validate; nothing of it is loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = "; ".join(str(p) for p in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} problem(s): {shown}{more}")
        self.problems = tuple(problems)
