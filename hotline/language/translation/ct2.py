"""Translation on this node with CTranslate2 models that an operator installed (see manifest.py).

Inference never runs on the event loop. Each provider owns one worker thread; a request is
a job for it, and the job tokenizes, translates the request's sentences as one batch, and
detokenizes. The queue in front of the worker is bounded: when it is full a request is told
so at once (``OVERLOADED``) instead of waiting behind work it cannot overtake. A request that
is not done by its timeout gets ``TIMEOUT``; if its job had not started it never will, and a
job already running finishes in the background (CTranslate2 cannot be interrupted) while still
holding its place in the queue, so a stuck engine cannot pile up work.

CTranslate2 computes with ``intra_threads`` threads (one by default) and the single worker means
one batch at a time: on a two-core node, translation can take at most that many cores from
delivery. Models load on first use, in the worker; the catalogue of installed models is read
again whenever a request finds no model for its pair, so a newly installed model is used without
a restart.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.language.translation import segments, tags
from hotline.language.translation.manifest import Catalogue, InstalledModel, scan
from hotline.language.translation.outcome import (
    NotTranslated,
    Outcome,
    Provenance,
    ProviderKind,
    Reason,
    Translated,
)


@dataclass
class _Loaded:
    translator: Any  # ctranslate2.Translator
    source: Any  # sentencepiece.SentencePieceProcessor
    target: Any
    engine_adds_eos: bool
    eos: str


class _Unavailable(Exception):
    """A model or the engine cannot be used; the message says why, for the operator."""


class CTranslate2Provider:
    """Translates with the CTranslate2 models installed under one directory."""

    kind = ProviderKind.CTRANSLATE2

    def __init__(
        self,
        models: Path,
        *,
        name: str = "ctranslate2",
        device: str = "cpu",
        compute_type: str = "default",
        intra_threads: int = 1,
        max_batch_size: int = 16,
        queue_size: int = 8,
        timeout_s: float = 10.0,
    ) -> None:
        self._models_dir = models
        self._name = name
        self._device, self._compute_type = device, compute_type
        self._intra_threads, self._max_batch_size = intra_threads, max_batch_size
        self._queue_size, self._timeout_s = queue_size, timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"mt-{name}")
        self._in_flight = 0  # jobs queued or running; touched on the worker's done callbacks
        self._lock = threading.Lock()
        # The worker thread alone reads and writes these two.
        self._catalogue: Catalogue | None = None
        self._loaded: dict[Path, _Loaded] = {}

    @property
    def name(self) -> str:
        return self._name

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[Outcome]:
        texts = list(texts)
        with self._lock:
            if self._in_flight >= self._queue_size:
                detail = f"{self._in_flight} requests already queued (limit {self._queue_size})"
                return self._fail(texts, Reason.OVERLOADED, detail)
            self._in_flight += 1
        try:
            job = self._executor.submit(self._run, texts, source, target)
        except RuntimeError:  # the provider is closed
            self._finished(None)
            return self._fail(texts, Reason.UNAVAILABLE, "the provider is closed")
        job.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job), self._timeout_s)
        except TimeoutError:
            job.cancel()  # effective only if the job has not started
            return self._fail(texts, Reason.TIMEOUT, f"no result within {self._timeout_s:g} s")

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _finished(self, _job: Future[list[Outcome]] | None) -> None:
        with self._lock:
            self._in_flight -= 1

    def _fail(self, texts: list[str], reason: Reason, detail: str) -> list[Outcome]:
        failure = NotTranslated(reason, detail, self._name)
        return [failure for _ in texts]

    # Everything below runs on the worker thread.

    def _run(self, texts: list[str], source: str, target: str) -> list[Outcome]:
        try:
            model = self._model_for(source, target)
            if model is None:
                return self._fail(texts, Reason.UNSUPPORTED_PAIR, self._no_model(source, target))
            loaded = self._load(model)
            translated = self._translate(model, loaded, texts, source, target)
        except _Unavailable as error:
            return self._fail(texts, Reason.UNAVAILABLE, str(error))
        except Exception as error:  # the engine's own errors have no common base class
            return self._fail(texts, Reason.FAILED, f"{type(error).__name__}: {error}")
        provenance = Provenance(self._name, self.kind, _engine(), model.manifest.name)
        return [Translated(text, source, target, provenance) for text in translated]

    def _model_for(self, source: str, target: str) -> InstalledModel | None:
        if self._catalogue is not None:
            model = self._catalogue.find(source, target)
            if model is not None:
                return model
        try:
            self._catalogue = scan(self._models_dir)
        except OSError as error:
            raise _Unavailable(f"models directory {self._models_dir}: {error.strerror}") from None
        return self._catalogue.find(source, target)

    def _no_model(self, source: str, target: str) -> str:
        detail = f"no model for {source} -> {target} installed in {self._models_dir}"
        problems = self._catalogue.problems if self._catalogue else ()
        return detail + "".join(f"; unreadable manifest {p}" for p in problems)

    def _load(self, model: InstalledModel) -> _Loaded:
        loaded = self._loaded.get(model.directory)
        if loaded is not None:
            return loaded
        try:
            import ctranslate2
            import sentencepiece
        except ImportError as error:
            raise _Unavailable(f"the translation engine is not installed: {error}") from None
        manifest, directory = model.manifest, model.directory
        try:
            translator = ctranslate2.Translator(
                str(directory),
                device=self._device,
                compute_type=self._compute_type,
                inter_threads=1,
                intra_threads=self._intra_threads,
            )
            source = sentencepiece.SentencePieceProcessor(
                model_file=str(directory / manifest.source_spm)
            )
            target = sentencepiece.SentencePieceProcessor(
                model_file=str(directory / manifest.target_spm)
            )
            config = _read_config(directory)
        except (OSError, RuntimeError, ValueError) as error:
            raise _Unavailable(f"model {manifest.name} in {directory}: {error}") from None
        loaded = _Loaded(
            translator,
            source,
            target,
            engine_adds_eos=bool(config.get("add_source_eos", False)),
            eos=str(config.get("eos_token", "</s>")),
        )
        self._loaded[model.directory] = loaded
        return loaded

    def _translate(
        self,
        model: InstalledModel,
        loaded: _Loaded,
        texts: list[str],
        source: str,
        target: str,
    ) -> list[str]:
        manifest = model.manifest
        prefix = manifest.tokens(manifest.source_prefix, source, target)
        if manifest.source_suffix is not None:
            suffix = manifest.tokens(manifest.source_suffix, source, target)
        else:
            suffix = [] if loaded.engine_adds_eos else [loaded.eos]
        target_prefix = manifest.tokens(manifest.target_prefix, source, target)
        split = [segments.split(text) for text in texts]
        batch = [
            [*prefix, *loaded.source.encode(sentence, out_type=str), *suffix]
            for text in split
            for sentence in text.sentences
        ]
        results = (
            loaded.translator.translate_batch(
                batch,
                target_prefix=[target_prefix] * len(batch) if target_prefix else None,
                beam_size=manifest.beam_size,
                max_batch_size=self._max_batch_size,
                max_input_length=manifest.max_input_length,
                max_decoding_length=manifest.max_decoding_length,
            )
            if batch
            else []
        )
        sentences = iter(
            loaded.target.decode(result.hypotheses[0][len(target_prefix) :]) for result in results
        )
        spaced = tags.spaced(target)
        return [
            text.join([next(sentences) for _ in text.sentences], spaced=spaced) for text in split
        ]


def _read_config(directory: Path) -> dict[str, Any]:
    path = directory / "config.json"
    if not path.is_file():
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    return config if isinstance(config, dict) else {}


def _engine() -> str:
    import ctranslate2

    return f"ctranslate2 {ctranslate2.__version__}"
