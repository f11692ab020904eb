"""Language benchmark: the agreed phrasebook and the shared glossary, in process.

phrasebook_entries, glossary_terms: the shipped counts.

agreed_render_ms: one entry of the shipped phrasebook rendered from raw parameters
(validation included), entries and languages taken in turn, over N renders.

phrasebook_search_ms: one search over a phrasebook of M entries (the shipped entries,
copied with new ids until there are M), queries in English, Chinese and pinyin taken
in turn, over N searches. The index is built before the first timed search.

mt_sentence_ms, model: machine translation of one sentence at a time, with the model
installed under --models (or HOTLINE_MODELS), else the tiny one the tests build
(bench/language_mt.py).

to_screen_translated_ms, delivery_p50_ratio_with_translation: two real nodes
(bench/language_node.py).

Each measurement is one function registered under its key in ``MEASURES``; run all
(default) or some (``--only KEY``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from bench.language_mt import add_arguments, run
from bench.stats import percentile
from hotline.language.glossary import shipped_glossary
from hotline.language.parameters import ParameterType
from hotline.language.phrasebook import Phrasebook, load_phrasebook, shipped_phrasebook

Measure = Callable[[argparse.Namespace], Any]
MEASURES: dict[str, Measure] = {}


def measure(key: str) -> Callable[[Measure], Measure]:
    def register(function: Measure) -> Measure:
        MEASURES[key] = function
        return function

    return register


# One valid raw value per type, in the form a console would send it.
EXAMPLES: dict[str, Any] = {
    "datetime": "2026-12-03T14:05+08:00",
    "duration": 5400,
    "position": {"lat": "24.5", "lon": "122.25"},
    "bearing": 45,
    "name": "Wenchang",
    "integer": 16,
    "number": "121.5",
}
SCHEMES = {
    "hull": "DDG-89",
    "callsign": "NAVY 123",
    "norad": "25544",
    "registration": "B-1234",
    "icao24": "7C1234",
    "mmsi": "412345678",
    "imo": "IMO 9074729",
    "cospar": "1998-067A",
}
QUERIES = [
    "keep clear",
    "closest point of approach",
    "re-entry debris",
    "manoeuv",
    "航向",
    "最近会遇距离",
    "核事故",
    "hangxiang",
    "haixiao",
    "launch window",
    "撤离",
    "tsunami warning",
]


def summary(values: list[float]) -> dict[str, float]:
    """As bench.stats.summary, to the microsecond: these operations take well under 1 ms."""
    ordered = sorted(values)
    return {
        "p50": round(percentile(ordered, 50), 4),
        "p90": round(percentile(ordered, 90), 4),
        "p99": round(percentile(ordered, 99), 4),
        "max": round(ordered[-1], 4),
        "n": len(ordered),
    }


def example(kind: ParameterType) -> Any:
    declaration = kind.declaration()
    if "units" in declaration:  # a quantity
        return {"value": "1", "unit": declaration["units"][0]}
    if declaration["type"] == "identifier":
        return SCHEMES[declaration["scheme"]]
    if declaration["type"] == "enum":
        return next(iter(declaration["options"]))
    if declaration["type"] == "integer":
        return declaration["minimum"]
    if declaration["type"] == "duration":
        return max(declaration["minimum"], 60)
    return EXAMPLES[declaration["type"]]


@measure("phrasebook_entries")
def phrasebook_entries(args: argparse.Namespace) -> int:
    return len(shipped_phrasebook().entries)


@measure("glossary_terms")
def glossary_terms(args: argparse.Namespace) -> int:
    return len(shipped_glossary().terms)


@measure("agreed_render_ms")
def agreed_render_ms(args: argparse.Namespace) -> dict[str, float]:
    book = shipped_phrasebook()
    work = [
        (entry.id, language, {name: example(kind) for name, kind in entry.parameters.items()})
        for entry in book.entries.values()
        for language in book.languages
    ]
    for entry_id, language, values in work:  # warm: Babel's locale data loads once
        book.render(entry_id, language, values)
    times = []
    for i in range(args.renders):
        entry_id, language, values = work[i % len(work)]
        start = time.perf_counter()
        book.render(entry_id, language, values)
        times.append((time.perf_counter() - start) * 1000)
    return summary(times)


def synthesised(size: int) -> Phrasebook:
    """The shipped phrasebook's entries, copied under new ids until there are ``size``."""
    folder = resources.files("hotline.language").joinpath("data", "phrasebook")
    index = json.loads(folder.joinpath("index.json").read_text("utf-8"))
    files = {
        c["id"]: json.loads(folder.joinpath(f"{c['id']}.json").read_text("utf-8"))
        for c in index["categories"]
    }
    originals = [(c, e) for c, listed in files.items() for e in listed]
    copies = 0
    while sum(len(listed) for listed in files.values()) < size:
        category, entry = originals[copies % len(originals)]
        twin = copy.deepcopy(entry)
        twin["id"] = f"{entry['id']}-{copies // len(originals) + 2}"
        files[category].append(twin)
        copies += 1
    return load_phrasebook(index, files)


@measure("phrasebook_search_ms")
def phrasebook_search_ms(args: argparse.Namespace) -> dict[str, float]:
    book = synthesised(args.entries)
    book.search("warm")  # builds the index (and loads the pinyin dictionary)
    times = []
    for i in range(args.searches):
        query = QUERIES[i % len(QUERIES)]
        start = time.perf_counter()
        book.search(query)
        times.append((time.perf_counter() - start) * 1000)
    return {**summary(times), "entries": len(book.entries)}


_MT: dict[str, Any] = {}


def _machine_translation(args: argparse.Namespace) -> dict[str, Any]:
    """Measured once for both keys."""
    if not _MT:
        _MT.update(run(args))
    return _MT


@measure("mt_sentence_ms")
def mt_sentence_ms(args: argparse.Namespace) -> dict[str, float]:
    """See bench/language_mt.py: one sentence at a time through CTranslate2."""
    found: dict[str, float] = _machine_translation(args)["mt_sentence_ms"]
    return found


@measure("model")
def model(args: argparse.Namespace) -> str:
    return str(_machine_translation(args)["model"])


@functools.cache
def _on_two_nodes(messages: int, pairs: int) -> dict[str, Any]:
    from bench.language_node import measure as on_two_nodes

    return on_two_nodes(messages, pairs)


@measure("to_screen_translated_ms")
def to_screen_translated_ms(args: argparse.Namespace) -> dict[str, float]:
    """See bench/language_node.py: two real nodes, the tiny CTranslate2 model."""
    found: dict[str, float] = _on_two_nodes(args.messages, args.pairs)["to_screen_translated_ms"]
    return found


@measure("delivery_p50_ratio_with_translation")
def delivery_p50_ratio_with_translation(args: argparse.Namespace) -> float:
    return float(_on_two_nodes(args.messages, args.pairs)["delivery_p50_ratio_with_translation"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=2_000)
    parser.add_argument("--entries", type=int, default=1_000)
    parser.add_argument("--messages", type=int, default=40, help="per block (language_node)")
    parser.add_argument("--pairs", type=int, default=6, help="on/off pairs of blocks")
    parser.add_argument("--only", action="append", choices=sorted(MEASURES))
    add_arguments(parser)  # the machine translation's (bench/language_mt.py)
    args = parser.parse_args()
    print(json.dumps({key: MEASURES[key](args) for key in args.only or MEASURES}))


if __name__ == "__main__":
    main()
