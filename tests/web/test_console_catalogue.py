"""Every string the console shows has its Chinese translation, with the same
placeholders, so a Chinese-speaking operator never meets an English fallback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from hotline.web.console.i18n import LANGUAGES, local_and_utc, translations
from hotline.web.console.labels import audit_detail

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "hotline/locale/zh_Hans/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def extracted(tmp_path: Path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "N_", "-k", "Invalid", "--no-location", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as handle:
        return {str(m.id) for m in read_po(handle) if m.id}


def test_every_console_string_has_a_chinese_translation(tmp_path: Path) -> None:
    wanted = extracted(tmp_path)
    assert len(wanted) > 100  # the extraction found the templates and the code
    with CATALOGUE.open("rb") as handle:
        catalogue = {str(m.id): m for m in read_po(handle) if m.id}
    missing = sorted(wanted - catalogue.keys())
    assert not missing, f"add to {CATALOGUE.name}: {missing}"
    for msgid in wanted:
        translated = catalogue[msgid].string
        assert translated, f"empty translation for {msgid!r}"
        assert not catalogue[msgid].fuzzy, msgid
        assert set(PLACEHOLDER.findall(str(translated))) == set(PLACEHOLDER.findall(msgid)), msgid


def test_translations_and_times_in_both_languages() -> None:
    assert set(LANGUAGES) == {"en", "zh-Hans"}
    assert translations("zh-Hans").gettext("Acknowledge") == "确认收悉"
    assert translations("en").gettext("Acknowledge") == "Acknowledge"
    moment = 1_675_368_309_000  # 2023-02-02 20:05:09 UTC
    assert local_and_utc(moment, "en", "America/New_York").startswith("2023-02-02 15:05:09")
    assert local_and_utc(moment, "en", "America/New_York").endswith("(20:05:09 UTC)")
    beijing = local_and_utc(moment, "zh-Hans", "Asia/Shanghai")
    assert beijing.startswith("2023-02-03 04:05:09")
    assert beijing.endswith("(2023-02-02 20:05:09 UTC)")  # another day: the UTC date too
    assert local_and_utc(moment, "en", "No/Such_Zone").startswith("2023-02-02 20:05:09")
    assert local_and_utc(None, "en", "UTC") == "—"


def test_audit_details_name_reasons_in_the_readers_language() -> None:
    detail = {"reason": "bad_credentials", "user_agent": "Firefox", "code": "not-a-reason"}
    chinese = dict(audit_detail(detail, "zh-Hans"))
    assert chinese["原因"] == "用户名、密码或验证码错误，或账户已被锁定。（bad_credentials）"
    assert chinese["浏览器"] == "Firefox"
    assert chinese["代码"] == "not-a-reason"  # not a reason: shown as it is
    english = dict(audit_detail({"code": "unknown_link", "detail": "no link x"}, "en"))
    assert english["code"] == "No such link. (unknown_link)"
