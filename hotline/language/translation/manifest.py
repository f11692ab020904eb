"""Installed translation models: the directory an operator fills, and each model's manifest.

Layout (one directory per model, any name; the manifest says what the model does)::

    <models>/
      zh-Hans-en/
        model.bin                 CTranslate2 weights (from a converter)
        config.json               CTranslate2's model configuration (from the converter)
        shared_vocabulary.json    or source_vocabulary.json + target_vocabulary.json
        source.spm  target.spm    the SentencePiece models (one file may serve both)
        hotline-model.json        the manifest below

A manifest (``hotline-model.json``)::

    {
      "format": 1,
      "name": "opus-mt-zh-en",
      "source_languages": ["zh-Hans", "zh-Hant"],
      "target_languages": ["en"]
    }

and, for models that need them, the tokenizer conventions:

- ``source_spm`` / ``target_spm``: file names of the SentencePiece models (defaults
  ``source.spm`` / ``target.spm``; NLLB names one file for both);
- ``language_tokens``: a Hotline tag to the model's own language code, e.g.
  ``{"en": "eng_Latn", "zh-Hans": "zho_Hans"}`` (NLLB) or ``{"zh-Hans": "cmn_Hans"}``;
- ``source_prefix`` / ``target_prefix``: tokens put before the source, and tokens the
  translation must begin with (removed from the output), where ``{source}`` and ``{target}``
  stand for the language codes: NLLB uses ``["{source}"]`` and ``["{target}"]``, OPUS-MT's
  multi-target models such as opus-mt-en-zh use ``[">>{target}<<"]`` as source prefix;
- ``source_suffix``: tokens put after the source; unset, it is the end-of-sentence token
  unless the model's config.json says the engine adds it itself;
- ``beam_size``, ``max_input_length``, ``max_decoding_length``: decoding limits.

A directory without a manifest is ignored; a manifest that does not parse is reported (with
the file's path) whenever that directory could have served a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotline.language.translation import tags

MANIFEST = "hotline-model.json"


class ModelManifest(BaseModel):
    """What one installed model translates, and how its input and output are tokenized."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    name: str = Field(min_length=1, max_length=200)
    source_languages: tuple[str, ...] = Field(min_length=1)
    target_languages: tuple[str, ...] = Field(min_length=1)
    source_spm: str = "source.spm"
    target_spm: str = "target.spm"
    language_tokens: dict[str, str] = Field(default_factory=dict)
    source_prefix: tuple[str, ...] = ()
    source_suffix: tuple[str, ...] | None = None
    target_prefix: tuple[str, ...] = ()
    beam_size: int = Field(2, ge=1, le=16)
    max_input_length: int = Field(512, ge=1)
    max_decoding_length: int = Field(256, ge=1)

    @field_validator("source_languages", "target_languages")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tag in value:
            if not tags.is_tag(tag):
                raise ValueError(f"{tag!r} is not a language tag like 'en' or 'zh-Hans'")
        return value

    @field_validator("source_spm", "target_spm")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        if Path(value).name != value or value in ("", ".", ".."):
            raise ValueError(f"{value!r} must be a file name inside the model's directory")
        return value

    def serves(self, source: str, target: str) -> bool:
        return source in self.source_languages and target in self.target_languages

    def tokens(self, template: tuple[str, ...], source: str, target: str) -> list[str]:
        """``template`` with ``{source}`` and ``{target}`` replaced by the model's codes."""
        codes = {
            "{source}": self.language_tokens.get(source, source),
            "{target}": self.language_tokens.get(target, target),
        }
        out = []
        for token in template:
            for placeholder, code in codes.items():
                token = token.replace(placeholder, code)
            out.append(token)
        return out


@dataclass(frozen=True)
class InstalledModel:
    directory: Path
    manifest: ModelManifest


@dataclass(frozen=True)
class Catalogue:
    """The models found under a directory, and the manifests that could not be read."""

    models: tuple[InstalledModel, ...]
    problems: tuple[str, ...]

    def find(self, source: str, target: str) -> InstalledModel | None:
        return next((m for m in self.models if m.manifest.serves(source, target)), None)


def scan(models: Path) -> Catalogue:
    """Read every ``<models>/*/hotline-model.json``, in directory-name order.

    Raises ``OSError`` when ``models`` itself cannot be listed; the first model that serves a
    pair is the one used.
    """
    found: list[InstalledModel] = []
    problems: list[str] = []
    for directory in sorted(p for p in models.iterdir() if p.is_dir()):
        path = directory / MANIFEST
        if not path.is_file():
            continue
        try:
            manifest = ModelManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as error:
            problems.append(f"{path}: {_one_line(error)}")
            continue
        found.append(InstalledModel(directory, manifest))
    return Catalogue(tuple(found), tuple(problems))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]
