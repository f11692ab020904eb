"""A tiny translation model built on the spot, so the real CTranslate2 code runs without an
installed model: in the tests, the benchmarks' fallback, and ``hotline demo`` (as a toy
stand-in, said so in its output, when no real model is installed).

The model is a one-layer Transformer with random weights, written through CTranslate2's own
specification API, and two SentencePiece models trained on a few lines of Chinese and English.
It translates nothing (its output is gibberish) but it loads, tokenizes and decodes exactly as an
installed OPUS-MT model does: the directory has the layout an operator installs, manifest included.

The end-of-sentence, control and language tokens are barred from the output (a large negative
bias in the output projection), so decoding always runs to the manifest's length limit and
yields ordinary target pieces: English-vocabulary text of a known length, never empty.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import ctranslate2.specs
import numpy as np
import sentencepiece

TINY_MODEL_NAME = "tiny-test-model"
SOURCE_LINES = [
    "我们已收到你方消息，正在研究。",
    "请确认收到本消息。",
    "船只正在离开该海域。",
    "飞机将保持当前位置，直到另行通知。",
    "我们将在十八点前答复。",
    "双方同意在明天举行会谈。",
    "请立即联系值班军官。",
    "这是一次定期线路测试。",
    "我们对事件表示关切。",
    "专属经济区内的活动应当通报。",
]
TARGET_LINES = [
    "We have received your message and are studying it.",
    "Please confirm receipt of this message.",
    "The ship is leaving the area.",
    "The aircraft will hold its position until further notice.",
    "We will reply before eighteen hundred hours.",
    "Both sides agree to hold talks tomorrow.",
    "Please contact the duty officer at once.",
    "This is a routine line test.",
    "We express concern about the incident.",
    "Activities in the exclusive economic zone should be notified.",
]
MAX_DECODING_LENGTH = 12
_DIMENSION, _HEADS, _FEED_FORWARD = 16, 2, 32
_CONTROL_TOKENS = ("<unk>", "<s>", "</s>")


def build_tiny_model(
    directory: Path,
    *,
    seed: int = 1,
    language_tokens: tuple[str, ...] = (),
    manifest: dict[str, object] | None = None,
    reverse: bool = False,
) -> Path:
    """Write a zh-Hans -> en model directory (the installed layout) and return its path;
    with ``reverse``, an en -> zh-Hans one (trained on the same lines the other way round).

    ``language_tokens`` are added to both vocabularies, as NLLB's "eng_Latn" are; ``manifest``
    entries replace or extend the default manifest's.
    """
    directory.mkdir(parents=True, exist_ok=True)
    source_lines, target_lines = (
        (TARGET_LINES, SOURCE_LINES) if reverse else (SOURCE_LINES, TARGET_LINES)
    )
    source_vocabulary = _train_sentencepiece(source_lines, directory / "source.spm")
    target_vocabulary = _train_sentencepiece(target_lines, directory / "target.spm")
    source_vocabulary += language_tokens
    target_vocabulary += language_tokens
    rng = np.random.default_rng(seed)
    spec = _random_transformer(source_vocabulary, target_vocabulary, language_tokens, rng)
    spec.validate()
    spec.optimize()
    spec.save(str(directory))
    written = {
        "format": 1,
        "name": TINY_MODEL_NAME,
        "source_languages": ["en"] if reverse else ["zh-Hans", "zh-Hant"],
        "target_languages": ["zh-Hans"] if reverse else ["en"],
        "max_decoding_length": MAX_DECODING_LENGTH,
        **(manifest or {}),
    }
    (directory / "hotline-model.json").write_text(json.dumps(written, indent=2) + "\n")
    return directory


def target_pieces(directory: Path) -> set[str]:
    """The pieces the model's target SentencePiece model knows."""
    processor = sentencepiece.SentencePieceProcessor(model_file=str(directory / "target.spm"))
    return {processor.id_to_piece(i) for i in range(processor.get_piece_size())}


def _train_sentencepiece(lines: list[str], path: Path) -> list[str]:
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=160,  # a ceiling: every character of the lines needs a piece
        hard_vocab_limit=False,
        character_coverage=1.0,
        model_type="unigram",
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _random_transformer(
    source_vocabulary: list[str],
    target_vocabulary: list[str],
    extra_tokens: tuple[str, ...],
    rng: np.random.Generator,
) -> ctranslate2.specs.TransformerSpec:
    d = _DIMENSION

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)

    def linear(spec: ctranslate2.specs.LayerSpec, outputs: int, inputs: int) -> None:
        spec.weight = weights(outputs, inputs)
        spec.bias = np.zeros(outputs, dtype=np.float32)

    def norm(spec: ctranslate2.specs.LayerSpec) -> None:
        spec.gamma = np.ones(d, dtype=np.float32)
        spec.beta = np.zeros(d, dtype=np.float32)

    def feed_forward(spec: ctranslate2.specs.LayerSpec) -> None:
        norm(spec.layer_norm)
        linear(spec.linear_0, _FEED_FORWARD, d)
        linear(spec.linear_1, d, _FEED_FORWARD)

    spec = ctranslate2.specs.TransformerSpec.from_config(num_layers=1, num_heads=_HEADS)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.embeddings[0].weight = weights(len(source_vocabulary), d)
    norm(encoder.layer_norm)
    for layer in encoder.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)
        linear(layer.self_attention.linear[1], d, d)
        feed_forward(layer.ffn)
    decoder.embeddings.weight = weights(len(target_vocabulary), d)
    norm(decoder.layer_norm)
    linear(decoder.projection, len(target_vocabulary), d)
    for token in (*_CONTROL_TOKENS, *extra_tokens):
        decoder.projection.bias[target_vocabulary.index(token)] = -1e4
    for layer in decoder.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)
        linear(layer.self_attention.linear[1], d, d)
        norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], d, d)
        linear(layer.attention.linear[1], 2 * d, d)
        linear(layer.attention.linear[2], d, d)
        feed_forward(layer.ffn)
    spec.register_source_vocabulary(source_vocabulary)
    spec.register_target_vocabulary(target_vocabulary)
    return spec
