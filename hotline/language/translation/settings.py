"""A node's translation configuration: its providers, in the order they are tried.

Written as data, for example in JSON::

    {
      "deadline_s": 15,
      "providers": [
        {"kind": "ctranslate2", "models": "/srv/hotline/models", "intra_threads": 1},
        {"kind": "libretranslate", "url": "http://127.0.0.1:5000", "timeout_s": 5}
      ]
    }

An empty list is valid: the node then shows originals only, each marked as not translated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator

from hotline.language.translation import tags


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CTranslate2Settings(_Settings):
    """Models installed under ``models`` (see manifest.py for the layout)."""

    kind: Literal["ctranslate2"]
    name: str = Field("ctranslate2", min_length=1, max_length=64)
    models: Path
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "default"  # the weights' own type: int8 for an int8-converted model
    intra_threads: int = Field(1, ge=1, le=64)
    max_batch_size: int = Field(default=16, ge=1, le=1024)
    queue_size: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(10.0, gt=0, le=600)


class LibreTranslateSettings(_Settings):
    """A LibreTranslate server; ``model`` is the name shown as the translation's model."""

    kind: Literal["libretranslate"]
    name: str = Field("libretranslate", min_length=1, max_length=64)
    url: AnyHttpUrl
    api_key: SecretStr | None = None
    model: str = Field("libretranslate", min_length=1, max_length=200)
    timeout_s: float = Field(5.0, gt=0, le=600)
    max_connections: int = Field(4, ge=1, le=64)


ProviderSettings = Annotated[
    CTranslate2Settings | LibreTranslateSettings, Field(discriminator="kind")
]


class TranslationSettings(_Settings):
    """The providers to try, in order, and how long a caller waits for all of them at most."""

    providers: tuple[ProviderSettings, ...] = ()
    deadline_s: float = Field(default=15.0, gt=0, le=600)

    @model_validator(mode="after")
    def _unique_names(self) -> TranslationSettings:
        names = [provider.name for provider in self.providers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"provider names must be unique; repeated: {', '.join(duplicates)}")
        return self


class NodeTranslationSettings(TranslationSettings):
    """A node's translation: its providers (above), the languages its people read, and the
    languages detection chooses among for incoming free text.

    In ``node.json`` under ``"translation"``; absent, the node reads English and has no
    provider, so every free-text message shows its original marked "no translation"::

        "translation": {
          "reading": ["zh-Hans"],
          "providers": [{"kind": "ctranslate2", "models": "/srv/hotline/models"}]
        }

    ``batch_size`` bounds how many messages one round of the node's translator takes.
    """

    enabled: bool = True  # off: no translator runs; every message shows its original only
    reading: tuple[str, ...] = Field(default=("en",), min_length=1, max_length=8)
    detect: tuple[str, ...] = Field(default=("en", "zh"), min_length=2, max_length=16)
    # "high": Lingua's full models, for short texts among languages of one script (tens of
    # megabytes more); "low" tells English from Chinese as well.
    detect_accuracy: Literal["low", "high"] = "low"
    batch_size: int = Field(default=16, ge=1, le=256)

    @model_validator(mode="after")
    def _language_tags(self) -> NodeTranslationSettings:
        for field, values in (("reading", self.reading), ("detect", self.detect)):
            bad = [value for value in values if not tags.is_tag(value)]
            if bad:
                raise ValueError(
                    f"{field}: {', '.join(map(repr, bad))} is not a language tag like 'en' "
                    "or 'zh-Hans'"
                )
            if len(set(values)) != len(values):
                raise ValueError(f"{field}: a language is named twice")
        return self
