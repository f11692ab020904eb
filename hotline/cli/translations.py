"""How ``hotline inbox`` shows a message's translation: the text and its badge, in one line."""

from __future__ import annotations

from ..node.language.translation_store import MACHINE, VERIFIED, TranslationView


def badge(translation: TranslationView) -> str:
    """``machine translation (unverified): engine, model``, ``verified by … (time)`` or
    ``no translation (reason)``; for the other side's rendering, how we were understood."""
    if translation.side == "theirs":
        shown = f"rendered in {translation.target} as, verified by {translation.verified_by}"
        return shown + (" [disputed]" if translation.disputed_ms else "")
    if translation.state == VERIFIED:
        seconds = (translation.to_verified_ms or 0) // 1000
        return f"verified by {translation.verified_by}, {seconds} s after arrival"
    if translation.state == MACHINE:
        machine = translation.machine
        return f"machine translation (unverified): {machine.get('engine')}, {machine.get('model')}"
    if translation.reason == "same_language":
        return ""
    return f"no translation ({translation.reason or 'pending'})"


def lines(translations: list[TranslationView], width: int) -> str:
    """The translations under a message's text in the inbox table (empty when none)."""
    shown = []
    for translation in translations:
        label = badge(translation)
        if not label:
            continue
        text = translation.text or ""
        cut = text[:width] + ("…" if len(text) > width else "")
        shown.append(f"[{translation.target}] {cut}\n  ({label})" if cut else f"({label})")
    return "\n".join(shown)
