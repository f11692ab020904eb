"""What a translation attempt yields: a translation with its provenance, or a reason why not.

Every request for a text ends in exactly one of the two values below; nothing here raises. A
``Translated`` is always machine output and unverified: the reader sees it beside the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hotline.language.translation.glossary import ProtectedTerm


class ProviderKind(StrEnum):
    """Which kind of engine produced a translation."""

    CTRANSLATE2 = "ctranslate2"
    LIBRETRANSLATE = "libretranslate"


class Reason(StrEnum):
    """Why there is no translation. The value is stable; the detail beside it is for people."""

    NO_PROVIDER = "no_provider"  # the node has no translation provider configured
    BAD_LANGUAGE_TAG = "bad_language_tag"  # a tag that is not like "en" or "zh-Hans"
    UNKNOWN_LANGUAGE = "unknown_language"  # the source language could not be told
    SAME_LANGUAGE = "same_language"  # the text is already in the reader's language
    UNSUPPORTED_PAIR = "unsupported_pair"  # no installed model or server does this pair
    UNAVAILABLE = "unavailable"  # engine or model absent, server unreachable
    OVERLOADED = "overloaded"  # the provider's queue is full; the text was not queued
    TIMEOUT = "timeout"  # no answer before the deadline
    FAILED = "failed"  # the engine or server answered with an error or nonsense


@dataclass(frozen=True)
class Provenance:
    """Where a machine translation comes from, to show beside it.

    ``provider`` is the operator's name for the provider in the node's configuration, ``kind``
    its engine family, ``engine`` the engine with its version or address, ``model`` the model's
    name (from the model's manifest, or the server's).
    """

    provider: str
    kind: ProviderKind
    engine: str
    model: str


@dataclass(frozen=True)
class Translated:
    """A machine translation of one text (never verified by a person here).

    ``missing_terms`` lists protected glossary terms that the engine lost: the text is still a
    translation, but those agreed terms are not in it and the reader must be told.
    """

    text: str
    source: str
    target: str
    provenance: Provenance
    missing_terms: tuple[ProtectedTerm, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing_terms


@dataclass(frozen=True)
class NotTranslated:
    """No translation, and why. ``attempts`` holds each provider's own failure, in order."""

    reason: Reason
    detail: str
    provider: str | None = None
    attempts: tuple[NotTranslated, ...] = ()


Outcome = Translated | NotTranslated
