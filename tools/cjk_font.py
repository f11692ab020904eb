"""Build the console's own Chinese font: a subset of Noto Sans CJK SC (SIL Open Font
Licence 1.1) from the system's fonts-noto-cjk package, made at build time with
fontTools and committed (``make font``). It holds the 3,755 most common Chinese
characters (GB 2312 level 1), every character of the console's Chinese catalogue
and agreed texts, and CJK and full-width punctuation, so the Chinese console never
shows empty boxes on a machine without a CJK font. No download, ever.

    python tools/cjk_font.py [SOURCE.ttc] [OUT.woff2]
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
LICENCE = Path("/usr/share/doc/fonts-noto-cjk/copyright")
OUT = ROOT / "hotline/web/static/fonts/NotoSansSC-Hotline.woff2"
SC_INDEX = 2  # Noto Sans CJK SC in the collection


def gb2312_level1() -> str:
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(chars)


def console_text() -> str:
    """Every character the console itself writes in Chinese."""
    text = []
    for path in [
        ROOT / "hotline/locale/zh_Hans/LC_MESSAGES/messages.po",
        *sorted((ROOT / "hotline").rglob("*.json")),
        *sorted((ROOT / "hotline").rglob("*.py")),
    ]:
        text.append(path.read_text(encoding="utf-8", errors="ignore"))
    return "".join(re.findall(r"[^\x00-\x7f]", "".join(text)))


def punctuation() -> str:
    ranges = [(0x3000, 0x303F), (0xFF00, 0xFFEF), (0x2010, 0x2027), (0x2030, 0x205E)]
    return "".join(chr(c) for start, end in ranges for c in range(start, end + 1))


def build(source: Path, out: Path) -> int:
    font = TTCollection(str(source)).fonts[SC_INDEX]
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = False
    subsetter = subset.Subsetter(options)
    wanted = set(gb2312_level1() + console_text() + punctuation())
    subsetter.populate(unicodes=sorted(ord(c) for c in wanted))
    subsetter.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff2"
    font.save(str(out))
    if LICENCE.exists():
        shutil.copyfile(LICENCE, out.parent / "LICENSE-NotoSansCJK.txt")
    return out.stat().st_size


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else OUT
    print(f"{out}: {build(source, out)} bytes")
