"""The pinyin of a customer's name, for search by pinyin (zhulixia, zlx → 朱丽霞).

Stored on the customer as "<full pinyin> <initials>", lower case, tone marks and
anything but letters and digits dropped: 朱丽霞 → "zhulixia zlx". A term of
letters then matches a part of either half; the space keeps a term from running
across the two. ü is written v (吕 → lv), as pinyin keyboards type it.

A name that starts with a surname read apart from the common reading of its
character (曾 zeng, not ceng; 单 shan, not dan) also gets that reading:
"cengguofan cgf zengguofan zgf", so either spelling finds 曾国藩.
"""

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

_KEEP = re.compile(r"[^a-z0-9]")
# What a typed pinyin term may hold: letters, and the spaces or apostrophes
# people put between syllables (zhu li xia, xi'an).
_TERM = re.compile(r"^[A-Za-z][A-Za-z\s']*$")
_TERM_SEPARATORS = re.compile(r"[\s']+")


# Surnames whose reading differs from their character's everyday one.
SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "仇": "qiu",
    "解": "xie",
    "查": "zha",
    "区": "ou",
    "朴": "piao",
    "乐": "yue",
    "召": "shao",
    "翟": "zhai",
    "盖": "ge",
    "缪": "miao",
    "尉": "yu",
    "秘": "bi",
    "覃": "qin",
    "长": "chang",
    "种": "chong",
    "繁": "po",
}


def _halves(syllables: list[str]) -> str:
    return f"{''.join(syllables)} {''.join(part[0] for part in syllables)}"


# Cached per distinct name: an import or a bulk write meets the same names (王芳, 李伟) many times.
@lru_cache(maxsize=8192)
def name_pinyin(name: str) -> str:
    name = (name or "").strip()
    syllables = [_KEEP.sub("", part.lower()) for part in lazy_pinyin(name, style=Style.NORMAL)]
    syllables = [part for part in syllables if part]
    if not syllables:
        return ""
    stored = _halves(syllables)
    surname = SURNAME_READINGS.get(name[0])
    if surname and surname != syllables[0]:
        stored = f"{stored} {_halves([surname, *syllables[1:]])}"
    return stored


def pinyin_term(term: str) -> str:
    """The term as stored pinyin would hold it ("Zhu Li'xia" → "zhulixia"), or "" when it is no pinyin."""
    if not _TERM.match(term.strip()):
        return ""
    return _TERM_SEPARATORS.sub("", term.strip()).lower()
