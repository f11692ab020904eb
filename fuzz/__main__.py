"""Run one fuzz target under atheris: ``python -m fuzz TARGET [options]``.

The corpus directory is seeded from the published vectors when it is empty, and
grows with every input that reaches new code; libFuzzer writes an input that fails
(with its traceback on standard error) as ``crash-*`` under ``--artifacts``. The run
ends after ``--seconds`` or ``--runs`` inputs, whichever comes first; the exit
status is non-zero if any input failed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("target", choices=["envelope", "bundle", "invitation"])
    parser.add_argument("--seconds", type=int, default=60, help="stop after this long")
    parser.add_argument("--runs", type=int, default=-1, help="stop after this many inputs")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's seed (0: random)")
    parser.add_argument("--corpus", type=Path, help="corpus directory (default: a new one)")
    parser.add_argument("--artifacts", type=Path, default=Path("."), help="where to write")
    args = parser.parse_args()

    import atheris  # only here: the tests import fuzz.targets without it

    with atheris.instrument_imports(include=["hotline", "fuzz"]):
        from fuzz.targets import DICTIONARIES, TARGETS

    check, seeds = TARGETS[args.target]
    corpus = args.corpus or Path(tempfile.mkdtemp(prefix=f"hotline-fuzz-{args.target}-"))
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for seed in seeds():
            (corpus / hashlib.sha256(seed).hexdigest()[:16]).write_bytes(seed)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    dictionary = corpus.with_name(corpus.name + ".dict")  # beside the corpus it serves
    dictionary.write_text("".join(_dictionary_line(t) for t in DICTIONARIES[args.target]))
    libfuzzer = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={args.seconds}",
        f"-runs={args.runs}",
        f"-seed={args.seed}",
        f"-artifact_prefix={args.artifacts}/",
        "-max_len=65536",
        f"-dict={dictionary}",
        "-print_final_stats=1",
    ]
    atheris.Setup(libfuzzer, check)
    atheris.Fuzz()


def _dictionary_line(token: bytes) -> str:
    """One libFuzzer dictionary entry: the token in quotes, every byte escaped."""
    return '"' + "".join(f"\\x{byte:02x}" for byte in token) + '"\n'


if __name__ == "__main__":
    main()
