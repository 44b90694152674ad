"""Hypothesis strategies for fuzzing patrol: hostile text, form fields, uploads, JSON bodies, query strings."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zlib
from functools import cache

from hypothesis import strategies as st
from PIL import Image

# Script payloads with a fixed, recognisable spelling: if one ever appears raw in an HTML page, it was not escaped.
VECTORS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><img src=x onerror=alert(3)>",
    "</textarea><script>alert(4)</script>",
    "</title><script>alert(5)</script>",
    '" onerror="alert(6)',
    "<svg><script>alert(7)</script></svg>",
    "<IMG SRC=x OnError=alert(8)>",
)

SQLISH = (
    "' OR '1'='1", "'; DROP TABLE app_user; --", "1 OR 1=1", "\" OR \"\"=\"", "%", "_", "%_%", "\\", "\\%",
    "admin'--", "1); SELECT 1; --", "' UNION SELECT username, password_hash FROM app_user --",
)
NUMBERISH = (
    "0", "1", "-1", "2", "00", "1.5", "1e3", "1e309", "-0", "NaN", "nan", "inf", "-inf", "0x10", " 7", "7 ",
    "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
    "99999999999999999999", "1" * 50, "9" * 5000, "٣", "١٢", "²", "³", "৪", "１２", "Ⅻ", "½",
)
DATEISH = (
    "2026-03-02", "2026-02-30", "2026-13-01", "0000-00-00", "0001-01-01", "9999-12-31", "1900-01-01",
    "2026-03", "2026-00", "2026-13", "9999-99", "9999-12", "0001-01", "0000-01", "2026-W10", "2026-W53",
    "2026-W00", "2026-W99", "9999-W52", "0001-W01", "20260302", "2026/03/02", "today", "-1",
    "2026-03-02T07:30:00+08:00", "2026-03-02T07:30:00Z", "2026-03-02T07:30:00", "2026-03-02T25:61:00+08:00",
    "2026-03-02T07:30:00+25:00", "2026-03-02T07:30:00+23:59", "0001-01-01T00:00:00+08:00",
    "0001-01-01T00:00:00-08:00", "9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59+12:00",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2026-03-02 07:30:00+08:00",
)
ODD = (
    "", " ", "\t\n", "\x00", "a\x00b", "\r\n\r\n", "\u202e\u202dtxt", "\ufeff", "\u200b", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "🔥🧯",
    "隐患", "null", "None", "undefined", "true", "[]", "{}", "../../../etc/passwd", "%00", "%s%s%n",
    "{{7*7}}", "${7*7}", "%(name)s", "{0}", "javascript:alert(1)", "//evil.example/", "/\\evil.example",
    "http://patrol.test/", "mailto:x@y", "\x1b[31m", "\x7f", "\u0085", "\u2028",
)

# Where a "next" field may send the browser after a form: only paths of this site should be followed.
REDIRECTS = ("/", "/hazards", "/hazards?status=open", "//evil.example", "/\\evil.example", "http://evil.example/",
             "https:evil.example", "javascript:alert(1)", "///evil.example", "/%2F/evil.example", " //evil.example",
             "/[", "//[::1]/", "//evil.example:99999/")


@cache
def redirect_target() -> st.SearchStrategy[str]:
    """A "next" value: odd, foreign, or a path with characters that URL parsers drop or choke on."""
    return weighted((1, st.sampled_from(REDIRECTS)), (1, st.builds(
        lambda a, b: "/" + a + "/" + b, st.sampled_from(("", "\t", "\n", "\r", " ", "\\", "\x00")),
        st.sampled_from(("evil.example", "[", "[::1]", "]", "evil.example:99999", "x")))))


# Text a browser can send: any Unicode except lone surrogates (not encodable as UTF-8).
CHARS = st.characters(exclude_categories=("Cs",))
SAFE_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


@cache
def xss(chars=CHARS) -> st.SearchStrategy[str]:
    """A script payload with random text around it."""
    return st.builds(lambda a, v, b: a + v + b, st.text(chars, max_size=8), st.sampled_from(VECTORS),
                     st.text(chars, max_size=8))


@cache
def long_text(chars=CHARS) -> st.SearchStrategy[str]:
    """Too long for any column: around the usual limits and far beyond."""
    return st.builds(lambda c, n: (c * n)[:n], st.text(chars, min_size=1, max_size=3),
                     st.sampled_from([51, 81, 101, 201, 301, 501, 1001, 2001, 5000, 70_000]))


@cache
def nasty_text(nul: bool = True) -> st.SearchStrategy[str]:
    """Any text a hostile or clumsy client might send in a field."""
    chars = CHARS if nul else SAFE_CHARS
    return st.one_of(
        st.text(chars, max_size=40),
        st.sampled_from(ODD if nul else tuple(v for v in ODD if "\x00" not in v)),
        st.sampled_from(SQLISH),
        st.sampled_from(NUMBERISH),
        st.sampled_from(DATEISH),
        xss(chars),
        long_text(chars),
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
    )


@cache
def numberish() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NUMBERISH), st.integers(-(2 ** 70), 2 ** 70).map(str),
                     st.integers(0, 40).map(str))


@cache
def dateish() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(DATEISH), st.dates().map(str), st.datetimes(timezones=st.timezones()).map(
        lambda d: d.isoformat()))


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, chosen by weight. (st.one_of flattens nested one_ofs and picks a branch evenly:
    one_of(good, nasty_text()) would draw a good value once in ten.)"""
    indexes = st.sampled_from([n for n, (weight, _strategy) in enumerate(choices) for _ in range(weight)])
    return indexes.flatmap(lambda n: choices[n][1])


class Field:
    """A field's plausible values (to get past validation and be stored) and its hostile ones."""

    def __init__(self, good: st.SearchStrategy, bad: st.SearchStrategy, text: bool = False):
        self.good, self.bad, self.text = good, bad, text  # text: free text, which may be too long for its column
        self.any = weighted((2, good), (1, bad))


@cache
def either(good: st.SearchStrategy, nul: bool = True) -> Field:
    return Field(good, nasty_text(nul))


@cache
def text_field() -> Field:
    """Free text: script payloads in plausible text (to be stored and shown), else hostile text, often too long."""
    return Field(weighted((1, xss(SAFE_CHARS)), (1, st.text(SAFE_CHARS, min_size=1, max_size=30))),
                 weighted((1, long_text()), (1, nasty_text())), text=True)


def as_field(spec) -> Field:
    """A plain strategy is its own bad values: such a field is always anything."""
    return spec if isinstance(spec, Field) else Field(spec, spec)


# How a request is made up: all plausible; plausible but for one or two fields; plausible but for one free
# text field, too long; or anything at all.
MODES = st.sampled_from(("valid", "valid", "mutate", "mutate", "long", "chaos"))


# Files: -------------------------------------------------------------------------------------------------------

def image_bytes(fmt: str, size=(24, 16), color=(30, 160, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds no pixels: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF))


JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG")
GIF = image_bytes("GIF")
FILE_BODIES = (
    b"", b"\x00", JPEG, PNG, GIF, JPEG[: len(JPEG) // 2], JPEG[:4], PNG[:40], b"GIF89a", b"BM" + b"\x00" * 60,
    b"<script>alert(1)</script>", b"%PDF-1.4\n%%EOF", b"PK\x03\x04" + b"\x00" * 30,
    png_header(70_000, 70_000), png_header(0, 0), png_header(1, 2 ** 31 - 1),
    b"\xff\xd8\xff\xe0" + b"\x00" * 100, b"RIFF\x00\x00\x00\x00WEBPVP8 ",
)
FILENAMES = ("x.jpg", "photo.JPEG", "a.png", "x", ".jpg", "x.jpg.exe", "../../x.jpg", "C:\\x.jpg", "照片.jpg",
             "x" * 300 + ".jpg", "x" * 5000, '<script>alert(1)</script>.jpg', '"><img src=x onerror=alert(2)>.jpg',
             "x\x00.jpg", "x;.jpg", "%00.jpg", " ")
CONTENT_TYPES = ("image/jpeg", "image/png", "application/octet-stream", "text/html", "", "image/svg+xml",
                 "multipart/form-data", "x/\x00")


@st.composite
def upload(draw):
    """(bytes, filename, content type) for one file field."""
    body = draw(st.one_of(st.sampled_from(FILE_BODIES), st.binary(max_size=600)))
    name = draw(weighted((1, st.sampled_from(FILENAMES)), (1, nasty_text(nul=False))))
    return body, name, draw(st.sampled_from(CONTENT_TYPES))


@cache
def uploads(max_files: int = 3):
    return st.lists(upload(), min_size=1, max_size=max_files)


@cache
def photo_field() -> Field:
    """A photo upload: a real photo, or anything in any number of files."""
    return Field(st.sampled_from([[(JPEG, "photo.jpg", "image/jpeg")], [(PNG, "p.png", "image/png")]]),
                 st.one_of(st.just([]), uploads()))


# Photos declared with a submission and sent one by one after it (the outbox): sha256 hex -> bytes.
DECLARED = {hashlib.sha256(body).hexdigest(): body for body in (JPEG, PNG, b"declared, but not an image")}


@cache
def sha256s():
    """What a client may name a photo to follow by: a declared hash, any hash, or not a hash."""
    return st.one_of(st.sampled_from(sorted(DECLARED)), st.sampled_from(sorted(DECLARED)).map(str.upper),
                     st.binary(max_size=20).map(lambda b: hashlib.sha256(b).hexdigest()),
                     st.from_regex(r"[0-9a-fA-F]{60,70}", fullmatch=True), nasty_text())


# Forms: ------------------------------------------------------------------------------------------------------

HOW = st.sampled_from(("one", "one", "one", "one", "missing", "many"))
MUTATION = st.sampled_from(("one", "one", "one", "missing", "many"))


def form_fields(fields: dict, nul: bool = True, extra: bool = True):
    """form_fields(fields)(mode): a form body (name -> list of values). "valid": every field plausible;
    "mutate": one or two fields hostile, missing or repeated; "long": one free text field too long (or as
    "mutate" where there is none); "chaos": every field anything, sent once,
    several times or not at all, sometimes with unknown names too. Build it once per plan: it is not cheap."""
    specs = {name: as_field(spec) for name, spec in fields.items()}
    mutated = st.lists(st.sampled_from(sorted(specs)), min_size=1, max_size=2) if specs else st.just([])
    texts = sorted(name for name, spec in specs.items() if spec.text)
    lengthened = st.sampled_from(texts).map(lambda name: [name]) if texts else mutated
    many = {name: (st.lists(spec.any, max_size=3), st.lists(spec.bad, max_size=3)) for name, spec in specs.items()}
    unknown = st.dictionaries(st.one_of(nasty_text(nul), st.sampled_from((
        "id", "campus_id", "role", "active", "csrf_token", "password_hash", "action", "page", "_method"))),
        nasty_text(nul), max_size=3)

    @st.composite
    def build(draw, mode: str):
        data: dict[str, list[str]] = {}
        chosen = set(draw(mutated if mode == "mutate" else lengthened)) if mode in ("mutate", "long") else set()
        for name, spec in specs.items():
            if mode == "chaos":
                how, strategy, several = draw(HOW), spec.any, many[name][0]
            elif name in chosen and mode == "long" and spec.text:
                how, strategy, several = "one", long_text(), None
            elif name in chosen:
                how, strategy, several = draw(MUTATION), spec.bad, many[name][1]
            else:
                how, strategy, several = "one", spec.good, None
            if how == "one":
                data[name] = [draw(strategy)]
            elif how == "many":
                data[name] = draw(several)
        if extra and mode == "chaos" and draw(st.integers(0, 2)) == 0:
            for name, value in draw(unknown).items():
                data.setdefault(name, []).append(value)
        return data

    return build


# JSON: -------------------------------------------------------------------------------------------------------

HUGE_NUMBERS = (2 ** 31, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, -(10 ** 30), 1e308, -1e308, 5e-324, 10 ** 4000,
                float("inf"), float("-inf"), float("nan"), -1, 0, 1.5, True, False, None)


@cache
def json_scalars(nul: bool = True):
    return st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_NUMBERS), st.floats(),
                     nasty_text(nul))


@cache
def json_field(good: st.SearchStrategy) -> st.SearchStrategy:
    """A JSON body's value for a known key: plausible, an odd number, or any JSON at all."""
    return weighted((2, good), (1, st.sampled_from(HUGE_NUMBERS)), (1, json_values()))


@cache
def json_values(nul: bool = True):
    """Any JSON document, nested a little."""
    return st.recursive(json_scalars(nul), lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(CHARS if nul else SAFE_CHARS, max_size=10), inner,
                                                     max_size=4)), max_leaves=12)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@cache
def b64_garbage():
    """What a client might put in a list of base64 photos."""
    return st.one_of(
        st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
        st.sampled_from(FILE_BODIES).map(lambda b: base64.b64encode(b).decode()),
        st.sampled_from(("", "=", "====", "not base64!", "data:image/jpeg;base64,/9j/4AAQ", "AAAA" * 3 + "=",
                         "\u00e9\u00e9\u00e9\u00e9", "YQ", "YQ=", "Y Q = =")),
        nasty_text(),
    )


@cache
def raw_bodies():
    """Bodies that are not a JSON document, or only barely one."""
    return st.one_of(
        st.binary(max_size=300),
        st.sampled_from((b"", b"{", b"[", b"null", b"NaN", b"Infinity", b'{"a":1,}', b"\xff\xfe{\x00}\x00",
                         b"\xef\xbb\xbf{}", b'{"point": "\xff"}', b"[" * 5000 + b"]" * 5000,
                         b"{\"a\":" * 3000 + b"1" + b"}" * 3000, b"1" * 5000, b'"' + b"\\u0000" * 10 + b'"',
                         b'{"client_uuid": "\\ud800"}', json.dumps({"x": "y" * 100_000}).encode())),
    )


# Query strings: ----------------------------------------------------------------------------------------------

def query(params: dict, nul: bool = True) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A query string as a list of (name, value): known parameters with plausible or hostile values, and
    others. Build it once per plan."""
    fields = {name: spec if isinstance(spec, Field) else either(spec, nul) for name, spec in params.items()}
    how = st.sampled_from(("one", "one", "missing", "missing", "many"))
    several = {name: st.lists(field.any, max_size=3) for name, field in fields.items()}
    others = st.lists(st.tuples(nasty_text(nul), nasty_text(nul)), max_size=3)

    @st.composite
    def build(draw):
        pairs: list[tuple[str, str]] = []
        for name, field in fields.items():
            chosen = draw(how)
            if chosen == "one":
                pairs.append((name, draw(field.any)))
            elif chosen == "many":
                pairs += [(name, v) for v in draw(several[name])]
        if draw(st.integers(0, 3)) == 0:
            pairs += draw(others)
        return pairs

    return build()


PAGE = st.one_of(numberish(), st.sampled_from(("1", "2", "-1", "0")))
