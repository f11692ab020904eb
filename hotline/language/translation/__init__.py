"""Machine translation of free text into the reader's language, offline, with provenance.

The public surface::

    settings = TranslationSettings.model_validate(config)       # settings.py
    chain = build_chain(settings, detector=LanguageDetector())  # chain.py
    outcome = await chain.translate_one(text, "zh-Hans", expected_source="en",
                                        terms=[ProtectedTerm("EEZ", "专属经济区")])
    match outcome:
        case Translated(text=text, provenance=provenance, missing_terms=missing): ...
        case NotTranslated(reason=reason, detail=detail): ...   # show the original only

Modules, each one idea: ``outcome`` (what a request yields), ``provider`` (the interface),
``ct2`` and ``manifest`` (local CTranslate2 models), ``libretranslate`` (a server),
``glossary`` (protected terms), ``segments`` (sentences), ``detection`` (which language),
``tags`` (language tags), ``settings`` and ``chain`` (a node's configuration, put to work).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline import lazy

if TYPE_CHECKING:
    from hotline.language.translation.chain import TermsFor, TranslationChain, build_chain
    from hotline.language.translation.ct2 import CTranslate2Provider
    from hotline.language.translation.detection import Detection, LanguageDetector
    from hotline.language.translation.glossary import ProtectedTerm
    from hotline.language.translation.libretranslate import LibreTranslateProvider
    from hotline.language.translation.manifest import MANIFEST, ModelManifest
    from hotline.language.translation.outcome import (
        NotTranslated,
        Outcome,
        Provenance,
        ProviderKind,
        Reason,
        Translated,
    )
    from hotline.language.translation.provider import Provider
    from hotline.language.translation.settings import (
        CTranslate2Settings,
        LibreTranslateSettings,
        TranslationSettings,
    )

# Loaded on first use: the node's configuration needs the settings and the language
# tags, not the providers, the detector and the HTTP client behind them.
_MODULE_OF = {
    "CTranslate2Provider": "ct2",
    "CTranslate2Settings": "settings",
    "Detection": "detection",
    "LanguageDetector": "detection",
    "LibreTranslateProvider": "libretranslate",
    "LibreTranslateSettings": "settings",
    "MANIFEST": "manifest",
    "ModelManifest": "manifest",
    "NotTranslated": "outcome",
    "Outcome": "outcome",
    "ProtectedTerm": "glossary",
    "Provenance": "outcome",
    "Provider": "provider",
    "ProviderKind": "outcome",
    "Reason": "outcome",
    "TermsFor": "chain",
    "Translated": "outcome",
    "TranslationChain": "chain",
    "TranslationSettings": "settings",
    "build_chain": "chain",
}


__getattr__ = lazy.exports(__name__, _MODULE_OF)


__all__ = [
    "MANIFEST",
    "CTranslate2Provider",
    "CTranslate2Settings",
    "Detection",
    "LanguageDetector",
    "LibreTranslateProvider",
    "LibreTranslateSettings",
    "ModelManifest",
    "NotTranslated",
    "Outcome",
    "ProtectedTerm",
    "Provenance",
    "Provider",
    "ProviderKind",
    "Reason",
    "TermsFor",
    "Translated",
    "TranslationChain",
    "TranslationSettings",
    "build_chain",
]
