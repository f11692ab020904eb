"""Machine translation benchmark: one sentence at a time through the CTranslate2 provider.

mt_sentence_ms: from the request to its translation, for each of N single-sentence requests
(as messages arrive, one by one), after one warm-up request that loads the model. The model is
the one installed for the pair under --models (or HOTLINE_MODELS); without a models directory,
the tiny random model the tests build ("tiny-test-model"), which measures the provider's own
overhead (thread hand-off, tokenizing, decoding) rather than a real model's inference.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import summary
from hotline.language.translation import CTranslate2Provider, NotTranslated, Translated

SENTENCES = {
    "zh-Hans": [
        "我们已收到你方消息，正在研究。",
        "飞机将保持当前位置，直到另行通知。",
        "双方同意在明天举行会谈。",
        "请立即联系值班军官。",
        "我们对事件表示关切，并要求作出解释。",
    ],
    "en": [
        "We have received your message and are studying it.",
        "The aircraft will hold its position until further notice.",
        "Both sides agree to hold talks tomorrow.",
        "Please contact the duty officer at once.",
        "We express concern about the incident and request an explanation.",
    ],
}


async def measure(models: Path, args: argparse.Namespace) -> dict[str, Any]:
    provider = CTranslate2Provider(models, intra_threads=args.intra_threads, timeout_s=600)
    sentences = itertools.cycle(SENTENCES[args.source])
    try:
        [warm] = await provider.translate([next(sentences)], args.source, args.target)
        if isinstance(warm, NotTranslated):
            raise SystemExit(f"no translation: {warm.reason}: {warm.detail}")
        times: list[float] = []
        for _ in range(args.sentences):
            started = time.perf_counter()
            [outcome] = await provider.translate([next(sentences)], args.source, args.target)
            times.append((time.perf_counter() - started) * 1000)
            if not isinstance(outcome, Translated):
                raise SystemExit(f"no translation: {outcome.reason}: {outcome.detail}")
    finally:
        await provider.aclose()
    assert isinstance(warm, Translated)
    return {
        "mt_sentence_ms": summary(times),
        "model": warm.provenance.model,
        "pair": f"{args.source}->{args.target}",
        "intra_threads": args.intra_threads,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The measurement with the installed model (``args.models``), else the tiny one."""
    if args.models is not None:
        return asyncio.run(measure(args.models, args))
    from hotline.demo.tiny_model import build_tiny_model

    if (args.source, args.target) != ("zh-Hans", "en"):
        raise SystemExit("the tiny model translates zh-Hans -> en only; give --models")
    with tempfile.TemporaryDirectory(prefix="hotline-mt-") as directory:
        build_tiny_model(Path(directory) / "zh-Hans-en")
        return asyncio.run(measure(Path(directory), args))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", type=Path, default=os.environ.get("HOTLINE_MODELS"))
    parser.add_argument("--source", choices=sorted(SENTENCES), default="zh-Hans")
    parser.add_argument("--target", default="en")
    parser.add_argument("--sentences", type=int, default=50)
    parser.add_argument("--intra-threads", type=int, default=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
