"""Translation by a LibreTranslate server (its HTTP API: ``GET /languages``, ``POST /translate``).

The server is the operator's own, on the node's network: requests go to it directly, never
through a proxy from the environment. A request has one total timeout on top of httpx's
per-step ones, so a server that accepts the connection and then trickles or never answers
costs at most that long. The server's language list is read on first use and kept; it is read
again when a pair seems unsupported and the list is more than a minute old.

Hotline's tags map to the server's codes: "zh-Hans" is "zh-Hans" on current servers and "zh"
on older ones; "zh-Hant" is "zh-Hant" or the older "zt".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from hotline.language.translation import tags
from hotline.language.translation.outcome import (
    NotTranslated,
    Outcome,
    Provenance,
    ProviderKind,
    Reason,
    Translated,
)

_CODES = {
    tags.SIMPLIFIED_CHINESE: ("zh-Hans", "zh"),
    tags.TRADITIONAL_CHINESE: ("zh-Hant", "zt"),
}
_LANGUAGES_MAX_AGE_S = 60.0


class _Language(BaseModel):
    code: str
    targets: list[str] | None = None


_LANGUAGE_LIST = TypeAdapter(list[_Language])


class _Refusal(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class LibreTranslateProvider:
    """Translates through one LibreTranslate server."""

    kind = ProviderKind.LIBRETRANSLATE

    def __init__(
        self,
        url: str,
        *,
        name: str = "libretranslate",
        api_key: str | None = None,
        model: str = "libretranslate",
        timeout_s: float = 5.0,
        max_connections: int = 4,
    ) -> None:
        self._url = url.rstrip("/")
        self._name, self._api_key, self._model = name, api_key, model
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=self._url,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_connections),
            trust_env=False,
        )
        self._languages: dict[str, frozenset[str] | None] | None = None
        self._languages_read_at = 0.0

    @property
    def name(self) -> str:
        return self._name

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[Outcome]:
        texts = list(texts)
        if not texts:
            return []
        try:
            async with asyncio.timeout(self._timeout_s):
                translated = await self._translate(texts, source, target)
        except _Refusal as refusal:
            return self._fail(texts, refusal.reason, refusal.detail)
        except (TimeoutError, httpx.TimeoutException):
            return self._fail(texts, Reason.TIMEOUT, f"{self._url} did not answer in time")
        except httpx.HTTPError as error:  # connection refused, reset, bad HTTP
            detail = f"{self._url}: {type(error).__name__}: {error}"
            return self._fail(texts, Reason.UNAVAILABLE, detail)
        engine = f"libretranslate at {self._url}"
        provenance = Provenance(self._name, self.kind, engine, self._model)
        return [Translated(text, source, target, provenance) for text in translated]

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _translate(self, texts: list[str], source: str, target: str) -> list[str]:
        source_code, target_code = await self._pair(source, target)
        body: dict[str, Any] = {
            "q": texts,
            "source": source_code,
            "target": target_code,
            "format": "text",
        }
        if self._api_key:
            body["api_key"] = self._api_key
        answer = _json(await self._client.post("/translate", json=body))
        translated = answer.get("translatedText") if isinstance(answer, dict) else None
        if isinstance(translated, str) and len(texts) == 1:
            translated = [translated]
        if not (
            isinstance(translated, list)
            and len(translated) == len(texts)
            and all(isinstance(t, str) for t in translated)
        ):
            raise _Refusal(Reason.FAILED, f"unexpected answer from {self._url}/translate")
        return translated

    async def _pair(self, source: str, target: str) -> tuple[str, str]:
        languages = await self._read_languages(refresh=False)
        pair = _codes(languages, source, target)
        if pair is None and time.monotonic() - self._languages_read_at > _LANGUAGES_MAX_AGE_S:
            pair = _codes(await self._read_languages(refresh=True), source, target)
        if pair is None:
            raise _Refusal(
                Reason.UNSUPPORTED_PAIR, f"{self._url} does not translate {source} -> {target}"
            )
        return pair

    async def _read_languages(self, *, refresh: bool) -> dict[str, frozenset[str] | None]:
        if self._languages is not None and not refresh:
            return self._languages
        answer = _json(await self._client.get("/languages"))
        try:
            listed = _LANGUAGE_LIST.validate_python(answer)
        except ValidationError:
            raise _Refusal(Reason.FAILED, f"unexpected answer from {self._url}/languages") from None
        self._languages = {
            language.code: None if language.targets is None else frozenset(language.targets)
            for language in listed
        }
        self._languages_read_at = time.monotonic()
        return self._languages

    def _fail(self, texts: list[str], reason: Reason, detail: str) -> list[Outcome]:
        failure = NotTranslated(reason, detail, self._name)
        return [failure for _ in texts]


def _codes(
    languages: dict[str, frozenset[str] | None], source: str, target: str
) -> tuple[str, str] | None:
    source_code = _code(languages, source)
    target_code = _code(languages, target)
    if source_code is None or target_code is None:
        return None
    targets = languages[source_code]
    if targets is not None and target_code not in targets:
        return None
    return source_code, target_code


def _code(languages: dict[str, frozenset[str] | None], tag: str) -> str | None:
    candidates = _CODES.get(tag, (tag, tags.language_of(tag)))
    return next((code for code in candidates if code in languages), None)


def _json(response: httpx.Response) -> Any:
    if response.status_code == 429:
        raise _Refusal(Reason.OVERLOADED, f"{response.url} is rate-limiting requests (429)")
    if response.status_code != 200:
        raise _Refusal(
            Reason.FAILED, f"{response.url} answered {response.status_code}: {_error(response)}"
        )
    try:
        return response.json()
    except ValueError:
        raise _Refusal(Reason.FAILED, f"{response.url} answered with something not JSON") from None


def _error(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    text = error if isinstance(error, str) else response.text
    return " ".join(text.split())[:200] or response.reason_phrase
