"""Text written outside this node, on the console's pages: inert and isolated.

Message texts, call topics, names and purposes of links and parties, policy labels,
alert texts, names claimed at the login form: all reach a page. The templates'
autoescaping already keeps markup inert; this adds two things escaping cannot:

* **isolation**: each such text sits in its own ``<bdi>``, so right-to-left text in
  it (a legitimate Arabic or Hebrew word) cannot reorder the page's own words
  around it;
* **visible hidden characters**: bidirectional controls, zero-width and other
  invisible or control characters (see :mod:`hotline.untrusted`) are shown as a
  marked ``U+202E`` that does nothing. ``Routine check <U+202E>yletaidemmi kcatta
  ot deeccorp`` can then not read as "…proceed to attack immediately".

The record keeps the exact characters; only what is shown changes.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape

from ...untrusted import inert

# inert() writes a hidden character as <U+XXXX>; escaped, that is &lt;U+XXXX&gt;.
_NOTATION = re.compile(r"&lt;U\+([0-9A-F]{4,6})&gt;")


def _mark(match: re.Match[str]) -> str:
    code = match.group(1)
    name = unicodedata.name(chr(int(code, 16)), "control character")
    return f'<span class="hidden-char" title="{escape(name.title())}">U+{code}</span>'


def outside(text: object, *, multiline: bool = False) -> Markup:
    """``text`` for an element's content: escaped, hidden characters marked, isolated."""
    if text is None or text == "":
        return Markup("")
    shown = _NOTATION.sub(_mark, str(escape(inert(str(text), multiline=multiline))))
    return Markup(f'<bdi class="outside">{shown}</bdi>')


def outside_attribute(text: object) -> str:
    """``text`` for an attribute value (a title, an aria-label): hidden characters written
    as their code point; the template's autoescaping does the rest."""
    return inert(str(text)) if text is not None else ""
