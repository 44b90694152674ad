"""Tiny server-side SVG charts (grouped bars, a line, a horizontal bar list): no JavaScript, no style attributes.

Each chart is one <svg role="img"> with a <title>, an aria-label and a viewBox, so it scales to its box;
each data point is one element (class "bar" or "dot") with its own <title> tooltip, wrapped in <a href>
when it has a link to the list behind it. Colours and sizes are presentation attributes, which the
Content-Security-Policy allows where style= is not; dashboard.css can restyle them by class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

FONT = 11
COLOURS = {"found": "#a15c00", "verified": "#1e7b34", "line": "#0b5cad", "bar": "#0b5cad", "axis": "#5b6470",
           "grid": "#d6dbe1", "text": "#1b1f24"}


@dataclass
class Datum:
    """One value to draw; `title` is its tooltip, `href` the list behind it, `text` how to print it."""

    value: float | None
    title: str = ""
    href: str | None = None
    text: str | None = None

    @property
    def shown(self) -> str:
        if self.text is not None:
            return self.text
        if self.value is None:
            return "—"
        return f"{self.value:g}" if isinstance(self.value, float) else str(self.value)


@dataclass
class Series:
    name: str
    data: list[Datum]
    key: str = "bar"  # a class suffix and a colour from COLOURS
    colour: str = field(default="")

    @property
    def fill(self) -> str:
        return self.colour or COLOURS.get(self.key, COLOURS["bar"])


def nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above value (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover


def text_width(text: str, size: int = FONT) -> float:
    """Roughly how wide text is drawn: CJK characters are square, Latin ones about 0.6 of the size."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def fit(text: str, width: float, size: int = FONT) -> str:
    """The text, cut with an ellipsis to fit `width`."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _attrs(**attrs) -> str:
    return "".join(f' {name.rstrip("_").replace("_", "-")}="{escape(value)}"' for name, value in attrs.items()
                   if value is not None)


def _tag(name: str, content: str = "", **attrs) -> str:
    return f"<{name}{_attrs(**attrs)}>{content}</{name}>"


def _linked(element: str, datum: Datum) -> str:
    return _tag("a", element, href=datum.href) if datum.href else element


def _svg(width: int, height: int, label: str, body: list[str], css: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%"'
        f' preserveAspectRatio="xMinYMin meet"{_attrs(class_=f"chart {css}", role="img", aria_label=label)}'
        f' font-size="{FONT}">{_tag("title", escape(label))}{"".join(body)}</svg>')


def _y_axis(top: float, left: int, plot_top: int, plot_bottom: int, right: int, y_label: str,
            unit: str = "", ticks: int = 4) -> list[str]:
    """Grid lines with tick values and the rotated axis title."""
    parts = []
    for n in range(ticks + 1):
        value = top * n / ticks
        y = plot_bottom - (plot_bottom - plot_top) * n / ticks
        parts.append(_tag("line", x1=left, y1=_num(y), x2=right, y2=_num(y), stroke=COLOURS["grid"],
                          stroke_width=1, class_="grid"))
        parts.append(_tag("text", escape(_num(value) + unit), x=left - 4, y=_num(y + 4), text_anchor="end",
                          fill=COLOURS["axis"], class_="tick"))
    middle = (plot_top + plot_bottom) / 2
    parts.append(_tag("text", escape(y_label), x=12, y=_num(middle), text_anchor="middle", fill=COLOURS["axis"],
                      transform=f"rotate(-90 12 {_num(middle)})", class_="axis-label"))
    return parts


def _x_axis(labels: list[str], left: int, step: float, baseline: int, right: int, width: int,
            height: int, x_label: str) -> list[str]:
    parts = [_tag("line", x1=left, y1=baseline, x2=right, y2=baseline, stroke=COLOURS["axis"], stroke_width=1,
                  class_="axis")]
    for n, text in enumerate(labels):  # a label may have a second line, e.g. the year under a month
        x = _num(left + step * (n + 0.5))
        lines = "".join(_tag("tspan", escape(line), x=x, dy=0 if i == 0 else FONT + 1)
                        for i, line in enumerate(text.split("\n")))
        parts.append(_tag("text", lines, x=x, y=baseline + 15, text_anchor="middle", fill=COLOURS["text"],
                          class_="tick"))
    parts.append(_tag("text", escape(x_label), x=_num((left + right) / 2), y=height - 4, text_anchor="middle",
                      fill=COLOURS["axis"], class_="axis-label"))
    return parts


def bar_chart(labels: list[str], series: list[Series], *, label: str, x_label: str, y_label: str,
              width: int = 720, height: int = 260) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series in each group."""
    left, right, top_margin, bottom = 52, width - 10, 30, height - 48
    values = [d.value or 0 for s in series for d in s.data]
    top = nice_top(max(values, default=0))
    step = (right - left) / max(len(labels), 1)
    bar_width = step * 0.8 / max(len(series), 1)
    parts = _y_axis(top, left, top_margin, bottom, right, y_label)
    for n, s in enumerate(series):  # the legend
        x = left + n * 140
        parts.append(_tag("rect", x=x, y=8, width=12, height=12, fill=s.fill, class_=f"legend legend-{s.key}"))
        parts.append(_tag("text", escape(s.name), x=x + 16, y=18, fill=COLOURS["text"], class_="legend"))
    for g in range(len(labels)):
        for n, s in enumerate(series):
            datum = s.data[g]
            value = datum.value or 0
            bar_height = max((bottom - top_margin) * value / top, 1)
            x = left + step * g + step * 0.1 + bar_width * n
            rect = _tag("rect", _tag("title", escape(datum.title)), x=_num(x), y=_num(bottom - bar_height),
                        width=_num(bar_width - 1), height=_num(bar_height), fill=s.fill, class_=f"bar bar-{s.key}")
            parts.append(_linked(rect, datum))
            if value:
                parts.append(_tag("text", escape(datum.shown), x=_num(x + bar_width / 2),
                                  y=_num(bottom - bar_height - 3), text_anchor="middle", font_size=FONT - 2,
                                  fill=COLOURS["text"], class_="value"))
    parts += _x_axis(labels, left, step, bottom, right, width, height, x_label)
    return _svg(width, height, label, parts, "bar-chart")


def line_chart(labels: list[str], data: list[Datum], *, label: str, x_label: str, y_label: str,
               top: float = 100, unit: str = "%", width: int = 720, height: int = 220) -> Markup:
    """A polyline through the values (broken where a value is missing), one dot per value."""
    left, right, top_margin, bottom = 52, width - 10, 14, height - 48
    step = (right - left) / max(len(labels), 1)
    parts = _y_axis(top, left, top_margin, bottom, right, y_label, unit)
    coords: list[tuple[float, float] | None] = []
    for n, datum in enumerate(data):
        if datum.value is None:
            coords.append(None)
            continue
        coords.append((left + step * (n + 0.5), bottom - (bottom - top_margin) * min(datum.value, top) / top))
    runs, run = [], []
    for point in coords + [None]:
        if point is None:
            if len(run) > 1:
                runs.append(run)
            run = []
        else:
            run.append(point)
    for run in runs:
        parts.append(_tag("polyline", points=" ".join(f"{_num(x)},{_num(y)}" for x, y in run), fill="none",
                          stroke=COLOURS["line"], stroke_width=2, class_="line"))
    for datum, point in zip(data, coords):
        if point is None:
            continue
        dot = _tag("circle", _tag("title", escape(datum.title)), cx=_num(point[0]), cy=_num(point[1]), r=5,
                   fill=COLOURS["line"], class_="dot")
        parts.append(_linked(dot, datum))
    parts += _x_axis(labels, left, step, bottom, right, width, height, x_label)
    return _svg(width, height, label, parts, "line-chart")


def bar_list(rows: list[tuple[str, Datum]], *, label: str, x_label: str, top: float | None = None,
             width: int = 440, row_height: int = 22, label_width: int = 140, key: str = "bar") -> Markup:
    """Horizontal bars, one row per (name, value), the value printed after each bar."""
    bar_left, bar_right = label_width + 8, width - 56
    height = row_height * len(rows) + 24
    scale = top if top is not None else nice_top(max((d.value or 0 for _, d in rows), default=0))
    parts = []
    for n, (name, datum) in enumerate(rows):
        y = n * row_height
        shown = fit(name, label_width - 4)
        parts.append(_tag("text", _tag("title", escape(name)) + str(escape(shown)), x=label_width, y=y + 15,
                          text_anchor="end", fill=COLOURS["text"], class_="row-label"))
        length = max((bar_right - bar_left) * min(datum.value or 0, scale) / scale, 1)
        rect = _tag("rect", _tag("title", escape(datum.title)), x=bar_left, y=y + 4, width=_num(length),
                    height=row_height - 8, fill=COLOURS.get(key, COLOURS["bar"]), class_=f"bar bar-{key}")
        parts.append(_linked(rect, datum))
        parts.append(_tag("text", escape(datum.shown), x=_num(bar_left + length + 4), y=y + 15,
                          fill=COLOURS["text"], class_="value"))
    baseline = row_height * len(rows) + 2
    parts.append(_tag("line", x1=bar_left, y1=baseline, x2=bar_right, y2=baseline, stroke=COLOURS["axis"],
                      stroke_width=1, class_="axis"))
    parts.append(_tag("text", escape(x_label), x=_num((bar_left + bar_right) / 2), y=height - 4,
                      text_anchor="middle", fill=COLOURS["axis"], class_="axis-label"))
    return _svg(width, height, label, parts, "bar-list")
