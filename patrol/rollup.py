"""District roll-up: read schools' monthly report files (patrol.monthly-report v1), add them up, write the XLSX.

How the district's rates are made: a rate is never averaged across schools. Each one is recomputed from the
summed numerator and denominator, so a big school weighs as much as its checks and hazards do:

- completion_rate = Σ checks_done ÷ Σ checks_due;
- rectification_rate = Σ (hazards found in the month and verified by its end) ÷ Σ hazards_found.

Version 1 of the file does not carry that last numerator (`hazards_verified` counts every verification in the
month, hazards found earlier included), so it is taken back from each school's own figures as
round(rectification_rate × hazards_found). The rate has 4 decimals, which makes this exact for up to 5,000
hazards found in a school's month; a file whose rate fits no whole number of its hazards is refused.
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .vocab import CATEGORY, SEVERITY, STATUS

SCHEMA = "patrol.monthly-report"
VERSION = 1
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# The 4-decimal rounding of a rate is off by at most 0.00005; a little more forgives a producer that truncates.
RATE_TOLERANCE = 0.0001
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT = "0.0%"

# FIGURES, in the order of docs/report-schema.md, with the words for column headers.
FIGURE_LABELS = {
    "points": _l("Points due"),
    "points_complete": _l("Points fully checked"),
    "checks_due": _l("Checks due"),
    "checks_done": _l("Checks done"),
    "completion_rate": _l("Completion rate"),
    "checks": _l("Checks recorded"),
    "hazards_found": _l("Hazards found"),
    "hazards_found_general": _l("General"),
    "hazards_found_major": _l("Major"),
    "hazards_rectified": _l("Rectified"),
    "hazards_verified": _l("Verified"),
    "rectification_rate": _l("Rectification rate"),
    "overdue": _l("Overdue"),
    "escalated": _l("Escalated"),
    "carried_over": _l("Carried over"),
}
RATES = {"completion_rate": ("checks_done", "checks_due"),
         "rectification_rate": ("found_verified", "hazards_found")}
REPORT_STATUS = {"draft": _l("Draft"), "closed": _l("Closed")}


class RollupError(ValueError):
    """Files that cannot be rolled up; the message names the file(s) and the problem."""

    def __init__(self, files: str | Sequence[str], problem: str):
        self.files = (files,) if isinstance(files, str) else tuple(files)
        self.problem = problem
        if not self.files:
            message = problem
        elif len(self.files) == 1:
            message = _("file %(file)s: %(problem)s", file=self.files[0], problem=problem)
        else:
            message = _("files %(files)s: %(problem)s", files=", ".join(self.files), problem=problem)
        super().__init__(message)


class RollupRefused(Exception):
    """Every problem found in a set of files; nothing is produced from them."""

    def __init__(self, errors: list[RollupError]):
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


@dataclass
class Figures:
    """One FIGURES object; the rates are recomputed, never stored (see the module's docstring)."""

    points: int = 0
    points_complete: int = 0
    checks_due: int = 0
    checks_done: int = 0
    checks: int = 0
    hazards_found: int = 0
    hazards_found_general: int = 0
    hazards_found_major: int = 0
    hazards_rectified: int = 0
    hazards_verified: int = 0
    overdue: int = 0
    escalated: int = 0
    carried_over: int = 0
    found_verified: int = 0  # hazards found in the month and verified by its end

    @property
    def completion_rate(self) -> float | None:
        return ratio(self.checks_done, self.checks_due)

    @property
    def rectification_rate(self) -> float | None:
        return ratio(self.found_verified, self.hazards_found)

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def value(self, name: str) -> int | float | None:
        return getattr(self, name)


COUNTS = tuple(f.name for f in fields(Figures) if f.name != "found_verified")


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class SchoolRow:
    file: str
    name: str
    status: str
    prepared_by: str
    approved_by: str
    totals: Figures


@dataclass
class District:
    month: str
    schools: list[SchoolRow]
    totals: Figures
    by_category: dict[str, Figures]
    hazards: list[tuple[str, dict]] = field(default_factory=list)  # (school name, hazard as in its file)

    @property
    def drafts(self) -> int:
        return sum(school.status == "draft" for school in self.schools)


def shown(value) -> str:
    """A value from a file, quoted for an error message and cut short."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "…"


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_rate(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def read_figures(name: str, data, where: str) -> Figures:
    """A FIGURES object of a report, checked field by field; fields it does not know are ignored."""
    if not isinstance(data, dict):
        raise RollupError(name, _("%(where)s must be an object, not %(found)s", where=where, found=shown(data)))
    for key in (*COUNTS, *RATES):
        if key not in data:
            raise RollupError(name, _("%(where)s.%(field)s is missing", where=where, field=key))
    for key in COUNTS:
        if not is_count(data[key]):
            raise RollupError(name, _("%(where)s.%(field)s must be a whole number from 0, not %(found)s",
                                      where=where, field=key, found=shown(data[key])))
    for key in RATES:
        if data[key] is not None and not is_rate(data[key]):
            raise RollupError(name, _("%(where)s.%(field)s must be a number from 0 to 1 or null, not %(found)s",
                                      where=where, field=key, found=shown(data[key])))
    figures = Figures(**{key: data[key] for key in COUNTS})
    if figures.hazards_found and data["rectification_rate"] is not None:
        figures.found_verified = round(data["rectification_rate"] * figures.hazards_found)
    for key, (numerator, denominator) in RATES.items():
        given, base = data[key], getattr(figures, denominator)
        if not base:
            continue  # nothing due or found: the rate is null, and any other value says nothing
        if given is None or abs(given - getattr(figures, numerator) / base) > RATE_TOLERANCE:
            raise RollupError(name, _("%(where)s.%(field)s is %(found)s, which does not fit %(denominator)s = "
                                      "%(count)d", where=where, field=key, found=shown(given),
                                      denominator=denominator, count=base))
    return figures


def check_report(name: str, report) -> None:
    """Raise RollupError unless report is a monthly report this server can roll up."""
    if not isinstance(report, dict):
        raise RollupError(name, _("the file must hold a JSON object, not %(found)s", found=shown(report)))
    if report.get("schema") != SCHEMA:
        raise RollupError(name, _("not a monthly report: schema is %(found)s, expected “%(expected)s”",
                                  found=shown(report.get("schema")), expected=SCHEMA))
    version = report.get("version")
    if not is_count(version):
        raise RollupError(name, _("version must be a whole number, not %(found)s", found=shown(version)))
    if version != VERSION:
        raise RollupError(name, _("schema version %(version)d is not supported (this server reads version "
                                  "%(supported)d)", version=version, supported=VERSION))
    month = report.get("month")
    if not (isinstance(month, str) and MONTH.fullmatch(month)):
        raise RollupError(name, _("month must be YYYY-MM, not %(found)s", found=shown(month)))
    school = report.get("school")
    if not isinstance(school, dict):
        raise RollupError(name, _("school must be an object, not %(found)s", found=shown(school)))
    if not (isinstance(school.get("name"), str) and school["name"].strip()):
        raise RollupError(name, _("school.name must be the school's name, not %(found)s",
                                  found=shown(school.get("name"))))
    read_figures(name, report.get("totals"), "totals")
    categories = report.get("by_category")
    if not isinstance(categories, dict):
        raise RollupError(name, _("by_category must be an object, not %(found)s", found=shown(categories)))
    for key, figures in categories.items():
        read_figures(name, figures, f"by_category.{key}")
    hazards = report.get("hazards", [])
    if not isinstance(hazards, list):
        raise RollupError(name, _("hazards must be a list, not %(found)s", found=shown(hazards)))
    for number, hazard in enumerate(hazards):
        if not isinstance(hazard, dict):
            raise RollupError(name, _("hazards[%(n)d] must be an object, not %(found)s", n=number,
                                      found=shown(hazard)))


def load_report(name: str, data: bytes) -> dict:
    """The report in a file's bytes, checked against the schema; RollupError names the file and the problem."""
    if not data.strip():
        raise RollupError(name, _("the file is empty"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RollupError(name, _("the file is not UTF-8 text")) from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RollupError(name, _("not valid JSON (line %(line)d, column %(column)d: %(error)s)",
                                  line=exc.lineno, column=exc.colno, error=exc.msg)) from None
    except ValueError:  # e.g. a number of more digits than Python converts
        raise RollupError(name, _("not a monthly report file")) from None
    except RecursionError:
        raise RollupError(name, _("not valid JSON (nested too deeply)")) from None
    check_report(name, report)
    return report


def school_key(name: str) -> str:
    """The same school however its name was spaced or cased (campus ids differ from server to server)."""
    return " ".join(name.split()).casefold()


def text_or_empty(value) -> str:
    return value if isinstance(value, str) else ""


def combine(reports: list[tuple[str, dict]]) -> District:
    """The district's figures: a row per school, sums, rates recomputed from the sums, and the hazards listed."""
    if not reports:
        raise RollupError((), _("no report files were given"))
    for name, report in reports:
        check_report(name, report)
    months: dict[str, list[str]] = {}
    for name, report in reports:
        months.setdefault(report["month"], []).append(name)
    if len(months) > 1:
        listing = "; ".join(f"{month}: {', '.join(names)}" for month, names in sorted(months.items()))
        raise RollupError([name for name, _report in reports],
                          _("the reports are for different months (%(months)s); a roll-up combines one month",
                            months=listing))
    seen: dict[str, str] = {}
    for name, report in reports:
        key = school_key(report["school"]["name"])
        if key in seen:
            raise RollupError([seen[key], name], _("both are reports of %(school)s; each school is rolled up "
                                                   "once", school=report["school"]["name"].strip()))
        seen[key] = name

    schools, hazards = [], []
    by_category = {key: Figures() for key in CATEGORY}
    for name, report in reports:
        school = report["school"]["name"].strip()
        schools.append(SchoolRow(file=name, name=school, status=text_or_empty(report.get("status")),
                                 prepared_by=text_or_empty(report.get("prepared_by")),
                                 approved_by=text_or_empty(report.get("approved_by")),
                                 totals=read_figures(name, report["totals"], "totals")))
        for key, figures in report["by_category"].items():
            by_category[key] = by_category.get(key, Figures()) + read_figures(name, figures, f"by_category.{key}")
        hazards.extend((school, hazard) for hazard in report.get("hazards", []))
    hazards.sort(key=lambda listed: listed[1].get("severity") != "major")  # stable: each school's order kept
    totals = sum((school.totals for school in schools), Figures())
    return District(month=next(iter(months)), schools=schools, totals=totals, by_category=by_category,
                    hazards=hazards)


def roll_up(files: Iterable[tuple[str, bytes]]) -> District:
    """Load every file and combine them; RollupRefused lists every bad file, not only the first."""
    reports, errors = [], []
    for name, data in files:
        try:
            reports.append((name, load_report(name, data)))
        except RollupError as error:
            errors.append(error)
    if errors:
        raise RollupRefused(errors)
    try:
        return combine(reports)
    except RollupError as error:
        raise RollupRefused([error]) from None


def label(mapping: dict, code) -> str:
    return str(mapping.get(code, code)) if code is not None else ""


def category_label(code: str) -> str:
    return label(CATEGORY, code)


# --- The spreadsheet ---------------------------------------------------------------------------------------

def district_xlsx(district: District) -> bytes:
    """The district workbook: Schools (a row each and the total), Categories, and the listed Hazards."""
    from openpyxl import Workbook

    workbook = Workbook()
    title = _("District roll-up %(month)s", month=district.month)
    workbook.properties.title = title
    figure_headers = [str(FIGURE_LABELS[key]) for key in FIGURE_LABELS]

    schools = workbook.active
    schools.title = _("Schools")
    add_header(schools, [_("School"), _("Status"), *figure_headers, _("Prepared by"), _("Approved by"), _("File")])
    for school in district.schools:
        add_row(schools, [school.name, label(REPORT_STATUS, school.status), *figure_values(school.totals),
                          school.prepared_by, school.approved_by, school.file])
    add_row(schools, [_("District total"), "", *figure_values(district.totals)], bold=True)
    percent_columns(schools, first=3)

    categories = workbook.create_sheet(_("Categories"))
    add_header(categories, [_("Category"), *figure_headers])
    for key, figures in district.by_category.items():
        add_row(categories, [category_label(key), *figure_values(figures)])
    add_row(categories, [_("District total"), *figure_values(district.totals)], bold=True)
    percent_columns(categories, first=2)

    hazards = workbook.create_sheet(_("Hazards"))
    add_header(hazards, [_("School"), _("Severity"), _("Category"), _("Status"), _("Overdue"), _("Escalated"),
                         _("Point"), _("Location"), _("Finding"), _("Control measures"), _("Deadline"),
                         _("Assignee"), _("First seen"), _("Hazard")])
    for school, hazard in district.hazards:
        add_row(hazards, [school, label(SEVERITY, hazard.get("severity")), category_label(hazard.get("category")),
                          label(STATUS, hazard.get("status")), yes(hazard.get("overdue")),
                          yes(hazard.get("escalated")),
                          *(cell_text(hazard.get(key)) for key in ("point", "location", "finding", "measures")),
                          cell_date(hazard.get("deadline")), cell_text(hazard.get("assignee")),
                          cell_date(hazard.get("first_seen")), cell_text(hazard.get("id"))])
    for row in hazards.iter_rows(min_row=2, min_col=11, max_col=13):
        for cell in (row[0], row[2]):
            cell.number_format = "yyyy-mm-dd"

    for sheet in workbook.worksheets:
        sheet.freeze_panes = "B2"
        sheet.oddHeader.center.text = title
        fit_widths(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def figure_values(figures: Figures) -> list:
    return [figures.value(key) for key in FIGURE_LABELS]


def yes(value) -> str:
    return _("Yes") if value is True else ""


def cell_text(value) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def cell_date(value):
    """A date as a date, so the sheet sorts and filters on it; anything else as text."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) and DAY.fullmatch(value) else cell_text(value)
    except ValueError:
        return cell_text(value)


def add_header(sheet, headers: list) -> None:
    from openpyxl.styles import Alignment, Font

    sheet.append([str(header) for header in headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def add_row(sheet, values: list, bold: bool = False) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    # Text comes from uploaded files: control characters would break the file, and a leading "=" must stay text.
    sheet.append([ILLEGAL_CHARACTERS_RE.sub("", str(value)) if isinstance(value, str) else value
                  for value in values])
    for cell in sheet[sheet.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"
        if bold:
            cell.font = Font(bold=True)


def percent_columns(sheet, first: int) -> None:
    """Give the rate columns, which start at column `first` in FIGURES order, a percent format."""
    for offset, key in enumerate(FIGURE_LABELS):
        if key in RATES:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=first + offset, max_col=first + offset):
                cell.number_format = PERCENT


def fit_widths(sheet) -> None:
    from openpyxl.utils import get_column_letter

    from .report_xlsx import display_width

    for number, column in enumerate(sheet.iter_cols(), start=1):
        widest = max(display_width(cell.value) for cell in column[1:]) if sheet.max_row > 1 else 0
        header = min(display_width(column[0].value), 16)  # long headers wrap instead
        sheet.column_dimensions[get_column_letter(number)].width = max(8, min(50, max(widest, header) + 2))
