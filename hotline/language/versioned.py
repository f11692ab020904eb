"""What the phrasebook and the glossary share as versioned documents both parties sign:
strict reading of their JSON files, the canonical encoding and its digest, and the
field-by-field comparison their diffs are built on.

The canonical encoding covers meaning, not layout: it is deterministic CBOR
(:func:`hotline.protocol.encoding.encode`) of maps keyed by id, so indentation, key
order and the order of entries in the files leave the digest unchanged, while any
change of wording, parameter or definition changes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..protocol.encoding import encode
from .errors import InvalidDocument, Problem, Reason

ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")  # entries, terms, categories, documents
DOCUMENT = "(document)"  # where a problem lies when it is not in one entry or term


class Problems(list[Problem]):
    """The problems a loader collects; called to add one."""

    def __call__(self, where: str, at: str, reason: Reason, detail: str) -> None:
        self.append(Problem(where, at, reason, detail))


def known_keys(raw: Mapping[str, Any], allowed: set[str], where: str, refuse: Problems) -> None:
    for key in raw:
        if key not in allowed:
            refuse(where, str(key), Reason.MALFORMED, f"unknown field {key!r}")


def wording(
    raw: object, languages: Sequence[str], where: str, at: str, refuse: Problems
) -> dict[str, str]:
    """Text in each language; a missing or extra language is a problem."""
    if not isinstance(raw, Mapping):
        refuse(where, at, Reason.MALFORMED, "expected text per language")
        return {}
    for language in languages:
        text = raw.get(language)
        if not isinstance(text, str) or not text.strip():
            refuse(where, f"{at}.{language}", Reason.MISSING_LANGUAGE, f"no text in {language}")
    for language in raw:
        if language not in languages:
            refuse(where, f"{at}.{language}", Reason.UNKNOWN_LANGUAGE, "not a phrasebook language")
    return {language: raw[language] for language in languages if isinstance(raw.get(language), str)}


def read_json(text: str, where: str) -> Any:
    """A data file's JSON; a key given twice in one object is refused, not overwritten
    (a translator's copy-paste would otherwise drop wording silently)."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise InvalidDocument(
                    [Problem(where, key, Reason.DUPLICATE_ID, f"key {key!r} appears twice")]
                )
            seen[key] = value
        return seen

    try:
        return json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise InvalidDocument([Problem(where, "(json)", Reason.MALFORMED, str(exc))]) from None


def encoding(canonical: Mapping[str, Any]) -> bytes:
    return encode(canonical)


def digest(canonical: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical encoding, in hex: what both parties sign."""
    return hashlib.sha256(encode(canonical)).hexdigest()


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths at which two canonical values differ, deepest first reached."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        paths: list[str] = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                paths.append(path)
            else:
                paths.extend(changed_paths(old[key], new[key], path))
        return paths
    return [] if old == new else [prefix]
