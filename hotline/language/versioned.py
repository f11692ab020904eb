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
from collections.abc import Mapping
from typing import Any

from ..protocol.encoding import encode
from .errors import InvalidDocument, Problem, Reason


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
