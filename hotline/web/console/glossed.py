"""Glossary terms highlighted in a message, with both sides' definitions.

A message is text from outside (:mod:`.outside`): every piece of it is escaped and
its hidden characters marked exactly as ``outside`` does; only the terms the link's
agreed glossary finds in it are wrapped in a focusable ``<span class="term">``
whose ``title`` (and ``aria-label``) gives each side's term and definition in the
reader's language, so a mouse shows them on hover and a finger or a screen reader
on focus. The definitions are the glossary's, which both sides signed.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from ...language.glossary import Glossary, Span
from ...untrusted import inert
from .outside import _NOTATION, _mark, outside


def _piece(text: str, multiline: bool) -> str:
    return _NOTATION.sub(_mark, str(escape(inert(text, multiline=multiline))))


def term_note(glossary: Glossary, term_id: str, lang: str) -> str:
    """Each side's term and definition (and how they differ) in ``lang``."""
    language = lang if lang in glossary.languages else glossary.languages[0]
    term = glossary.terms[term_id]
    lines = []
    for side, entry in term.sides.items():
        name = glossary.sides[side].get(language, side)
        lines.append(f"{name}: {entry.term[language]} — {entry.definition[language]}")
    if term.difference is not None:
        lines.append(f"≠ {term.difference[language]}")
    return "\n".join(lines)


def _spans(glossary: Glossary, text: str) -> list[Span]:
    chosen: list[Span] = []
    end = 0
    for span in sorted(glossary.find_terms(text), key=lambda s: (s.start, -s.end)):
        if span.start >= end:
            chosen.append(span)
            end = span.end
    return chosen


def glossed(
    text: object, glossary: Glossary | None, lang: str, *, multiline: bool = False
) -> Markup:
    """``text`` as :func:`outside` shows it, with the glossary's terms highlighted."""
    if glossary is None or text is None or text == "":
        return outside(text, multiline=multiline)
    source = str(text)
    spans = _spans(glossary, source)
    if not spans:
        return outside(source, multiline=multiline)
    parts, at = [], 0
    for span in spans:
        parts.append(_piece(source[at : span.start], multiline))
        note = escape(inert(term_note(glossary, span.term, lang), multiline=True))
        differs = " differs" if glossary.terms[span.term].differs else ""
        parts.append(
            f'<span class="term{differs}" tabindex="0" data-term="{escape(span.term)}" '
            f'title="{note}" aria-label="{note}">{_piece(source[span.start : span.end], False)}'
            "</span>"
        )
        at = span.end
    parts.append(_piece(source[at:], multiline))
    return Markup(f'<bdi class="outside">{"".join(parts)}</bdi>')
