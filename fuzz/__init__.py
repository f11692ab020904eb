"""Coverage-guided fuzzing (atheris, libFuzzer) of the readers that take input from
outside: the envelope decoder, the bundle reader and the invitation reader.

Each target in :mod:`fuzz.targets` states what any input must lead to: a refusal
(ProtocolError), or acceptance of exactly what was signed, in its one written form.
Run ``python -m fuzz TARGET`` (``make fuzz`` runs every target); the test suite runs
each for a bounded number of inputs (tests/test_protocol_fuzz.py).
"""
