"""The node's translator for free text: providers tried in order, within one deadline.

``TranslationChain.translate`` is the one entry point. For each text it

1. settles the source language: the caller's ``source`` if given, else detection, else (when
   detection will not guess) the caller's ``expected_source``;
2. protects glossary terms with placeholders (glossary.py);
3. asks each provider in turn for the texts still without a complete translation, until all
   have one or the providers or the deadline run out;
4. restores the terms, and returns one outcome per text, in order.

Invariants: it never raises (a provider's exception is a ``FAILED`` outcome), and it returns
by its deadline even if a provider hangs or ignores cancellation (the chain stops waiting for it
and leaves it to finish on its own). A translation that lost a protected term is kept only if no
later provider gives a complete one. Agreed texts never come here: they are exact in both
languages and need no engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence

from hotline.language.translation import glossary, tags
from hotline.language.translation.detection import Detection, LanguageDetector
from hotline.language.translation.glossary import ProtectedTerm
from hotline.language.translation.outcome import NotTranslated, Outcome, Reason, Translated
from hotline.language.translation.provider import Provider
from hotline.language.translation.settings import (
    CTranslate2Settings,
    ProviderSettings,
    TranslationSettings,
)

TermsFor = Callable[[str, str], Sequence[ProtectedTerm]]
"""The protected terms for a (source, target) pair, from the node's glossary."""


class TranslationChain:
    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        deadline_s: float = 15.0,
        detector: LanguageDetector | None = None,
    ) -> None:
        self._providers = tuple(providers)
        self._deadline_s = deadline_s
        self._detector = detector

    @property
    def providers(self) -> tuple[Provider, ...]:
        return self._providers

    async def translate(
        self,
        texts: Sequence[str],
        target: str,
        *,
        source: str | None = None,
        expected_source: str | None = None,
        terms: Sequence[ProtectedTerm] | TermsFor = (),
    ) -> list[Outcome]:
        """Translate ``texts`` into ``target``: one outcome per text, by the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline_s
        texts = list(texts)
        for tag in (target, source, expected_source):
            if tag is not None and not tags.is_tag(tag):
                detail = f"{tag!r} is not a language tag like 'en' or 'zh-Hans'"
                return [NotTranslated(Reason.BAD_LANGUAGE_TAG, detail) for _ in texts]
        sources = await self._sources(texts, source, expected_source, deadline)
        outcomes: list[Outcome | None] = [None] * len(texts)
        groups: dict[str, list[int]] = {}
        for index, language in enumerate(sources):
            if language is None:
                detail = "the text's language could not be told (too short or ambiguous)"
                outcomes[index] = NotTranslated(Reason.UNKNOWN_LANGUAGE, detail)
            elif language == target:
                outcomes[index] = NotTranslated(Reason.SAME_LANGUAGE, f"already in {target}")
            else:
                groups.setdefault(language, []).append(index)
        translated = await asyncio.gather(
            *(
                self._translate_group([texts[i] for i in group], language, target, terms, deadline)
                for language, group in groups.items()
            )
        )
        for indices, results in zip(groups.values(), translated, strict=True):
            for index, outcome in zip(indices, results, strict=True):
                outcomes[index] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    async def translate_one(
        self,
        text: str,
        target: str,
        *,
        source: str | None = None,
        expected_source: str | None = None,
        terms: Sequence[ProtectedTerm] | TermsFor = (),
    ) -> Outcome:
        outcomes = await self.translate(
            [text], target, source=source, expected_source=expected_source, terms=terms
        )
        return outcomes[0]

    async def detect(self, text: str) -> Detection:
        """The language of ``text`` (detection runs off the event loop)."""
        if self._detector is None:
            return Detection(tags.UNKNOWN, 0.0)
        return await asyncio.to_thread(self._detector.detect, text)

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()

    async def _sources(
        self, texts: list[str], source: str | None, expected: str | None, deadline: float
    ) -> list[str | None]:
        if source is not None:
            return [source for _ in texts]
        if self._detector is None or not texts:
            return [expected for _ in texts]
        detector = self._detector
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            detections = await asyncio.wait_for(
                asyncio.to_thread(lambda: [detector.detect(text) for text in texts]), remaining
            )
        except Exception:  # detection is a help, not a gate: fall back on the expectation
            return [expected for _ in texts]
        return [d.tag if d.known else expected for d in detections]

    async def _translate_group(
        self,
        texts: list[str],
        source: str,
        target: str,
        terms: Sequence[ProtectedTerm] | TermsFor,
        deadline: float,
    ) -> list[Outcome]:
        if not self._providers:
            failure = NotTranslated(Reason.NO_PROVIDER, "no translation provider is configured")
            return [failure for _ in texts]
        protected_terms = terms(source, target) if callable(terms) else terms
        protected = [glossary.protect(text, protected_terms) for text in texts]
        final: dict[int, Outcome] = {}
        incomplete: dict[int, Translated] = {}
        failures: dict[int, list[NotTranslated]] = {index: [] for index in range(len(texts))}
        pending = list(range(len(texts)))
        loop = asyncio.get_running_loop()
        for provider in self._providers:
            if not pending:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                detail = f"the {self._deadline_s:g} s deadline passed before it was asked"
                for index in pending:
                    failures[index].append(NotTranslated(Reason.TIMEOUT, detail, provider.name))
                continue
            answers = await self._ask(
                provider, [protected[i].text for i in pending], source, target, remaining
            )
            still: list[int] = []
            for index, answer in zip(pending, answers, strict=True):
                if isinstance(answer, NotTranslated):
                    failures[index].append(answer)
                    still.append(index)
                    continue
                text, missing = glossary.restore(answer.text, protected[index])
                result = dataclasses.replace(
                    answer, text=text, source=source, target=target, missing_terms=missing
                )
                if missing:
                    incomplete.setdefault(index, result)
                    still.append(index)
                else:
                    final[index] = result
            pending = still
        for index in pending:
            final[index] = incomplete.get(index) or _summary(failures[index])
        return [final[index] for index in range(len(texts))]

    async def _ask(
        self, provider: Provider, texts: list[str], source: str, target: str, remaining: float
    ) -> list[Outcome]:
        def failed(reason: Reason, detail: str) -> list[Outcome]:
            return [NotTranslated(reason, detail, provider.name) for _ in texts]

        task = asyncio.ensure_future(provider.translate(texts, source, target))
        try:
            done, _ = await asyncio.wait({task}, timeout=remaining)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            task.add_done_callback(_forget)
            return failed(Reason.TIMEOUT, f"no answer within the {self._deadline_s:g} s deadline")
        if task.cancelled():
            return failed(Reason.FAILED, "the provider cancelled the request")
        error = task.exception()
        if error is not None:
            return failed(Reason.FAILED, f"{type(error).__name__}: {error}")
        answers = task.result()
        if not isinstance(answers, list) or len(answers) != len(texts):
            return failed(Reason.FAILED, "the provider did not answer one result per text")
        return answers


def build_chain(
    settings: TranslationSettings, *, detector: LanguageDetector | None = None
) -> TranslationChain:
    """The chain a node's configuration describes; providers connect and load on first use."""
    providers = [_provider(provider) for provider in settings.providers]
    return TranslationChain(providers, deadline_s=settings.deadline_s, detector=detector)


def _provider(settings: ProviderSettings) -> Provider:
    # Each provider's module is imported for a node configured with it: most nodes have
    # none, and their start-up need not load the providers and the model manifest.
    if isinstance(settings, CTranslate2Settings):
        from hotline.language.translation.ct2 import CTranslate2Provider

        return CTranslate2Provider(
            settings.models,
            name=settings.name,
            device=settings.device,
            compute_type=settings.compute_type,
            intra_threads=settings.intra_threads,
            max_batch_size=settings.max_batch_size,
            queue_size=settings.queue_size,
            timeout_s=settings.timeout_s,
        )
    from hotline.language.translation.libretranslate import LibreTranslateProvider

    return LibreTranslateProvider(
        str(settings.url),
        name=settings.name,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        model=settings.model,
        timeout_s=settings.timeout_s,
        max_connections=settings.max_connections,
    )


def _summary(failures: list[NotTranslated]) -> NotTranslated:
    """One failure for the caller: the first reason that is not "this pair is not served"."""
    telling = [f for f in failures if f.reason is not Reason.UNSUPPORTED_PAIR] or failures
    detail = "; ".join(f"{f.provider}: {f.detail}" for f in failures)
    return NotTranslated(telling[0].reason, detail, telling[0].provider, tuple(failures))


def _forget(task: asyncio.Future[list[Outcome]]) -> None:
    # Read the abandoned task's exception so asyncio does not log it as never retrieved.
    if not task.cancelled():
        task.exception()
