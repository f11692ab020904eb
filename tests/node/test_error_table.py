"""One vocabulary of refusals, kept whole: every reason has its HTTP status, its
sentence in the console's catalogue in both languages, and its row in the
documentation's error table; the pure libraries' codes are all reasons."""

from __future__ import annotations

import re
from pathlib import Path

from hotline.errors import Reason
from hotline.language.errors import Reason as LanguageReason
from hotline.protocol.errors import Code
from hotline.web.console.i18n import translations
from hotline.web.console.reasons import TEXT
from hotline.web.statuses import STATUS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_reason_has_a_status_and_a_sentence_in_both_languages() -> None:
    assert set(STATUS) == set(Reason)
    assert set(TEXT) == set(Reason)
    chinese = translations("zh-Hans")
    untranslated = [r for r in Reason if chinese.gettext(TEXT[r]) == TEXT[r]]
    assert untranslated == []
    assert all(re.search(r"[\u4e00-\u9fff]", chinese.gettext(TEXT[r])) for r in Reason)


def test_the_documented_table_is_the_vocabulary() -> None:
    documented = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", DOCS.read_text(), re.M)
    assert sorted(code for code, _ in documented) == sorted(r.value for r in Reason)
    assert {Reason(code): int(status) for code, status in documented} == STATUS


def test_the_pure_libraries_codes_are_reasons() -> None:
    reasons = {r.value for r in Reason}
    assert {c.value for c in Code} <= reasons
    assert {r.value for r in LanguageReason} <= reasons
