"""The monthly report as a spreadsheet (the bureau's habit): Summary, Hazards and Coverage sheets.

Headers and sheet names follow the user's language; numbers stay numbers (integers, 0.0% for rates) so
the bureau can add up and sort what schools send.
"""
from __future__ import annotations

import io
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from .models import CATEGORIES
from .monthly import FIGURE_LABELS, FIGURES, RATES
from .vocab import CATEGORY, SEVERITY, STATUS

INTEGER = "0"
PERCENT = "0.0%"
DAY = "yyyy-mm-dd"
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E8EDF3")
THIN = Side(style="thin", color="B0B7C0")
HEADER_BORDER = Border(bottom=THIN)
TITLE_FONT = Font(bold=True, size=14)
MAX_WIDTH = 60


def monthly_workbook(report: dict) -> bytes:
    """The .xlsx file of one monthly report dict (draft or closed)."""
    workbook = Workbook()
    summary = workbook.active
    summary.title = sheet_name(_("Summary"))
    write_summary(summary, report)
    write_hazards(workbook.create_sheet(sheet_name(_("Hazards"))), report)
    write_coverage(workbook.create_sheet(sheet_name(_("Coverage"))), report)
    workbook.properties.title = title_line(report)
    workbook.properties.creator = "patrol"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def sheet_name(text: str) -> str:
    """Excel allows 31 characters and none of []:*?/\\ in a sheet name."""
    return "".join(c for c in str(text) if c not in "[]:*?/\\")[:31] or "Sheet"


def title_line(report: dict) -> str:
    return _("%(school)s · Monthly safety report %(month)s", school=report["school"]["name"], month=report["month"])


def local(stamp: str | None, report: dict) -> str:
    """A report's UTC time stamp on the school's clock."""
    if not stamp:
        return ""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(report["school"]["timezone"])).strftime("%Y-%m-%d %H:%M")


def status_line(report: dict) -> str:
    if report["status"] == "closed":
        return _("Closed %(when)s · prepared by %(prepared)s · approved by %(approved)s",
                 when=local(report.get("closed_at"), report), prepared=report.get("prepared_by") or "",
                 approved=report.get("approved_by") or "")
    return _("Draft: the figures change as data changes (generated %(when)s)",
             when=local(report.get("generated_at"), report))


def write_titles(sheet, report: dict) -> int:
    """School and month above the table; returns the header row."""
    sheet.cell(row=1, column=1, value=title_line(report)).font = TITLE_FONT
    sheet.cell(row=2, column=1, value=status_line(report))
    return 4


def write_header(sheet, row: int, headers: list[str]) -> None:
    for column, text in enumerate(headers, start=1):
        cell = sheet.cell(row=row, column=column, value=text)
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, HEADER_BORDER
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    # Rows above scroll away; the header (and the first column) stay in view.
    sheet.freeze_panes = sheet.cell(row=row + 1, column=2)


def put(sheet, row: int, column: int, value, number_format: str | None = None, wrap: bool = False):
    cell = sheet.cell(row=row, column=column, value=value)
    if number_format and value is not None:
        cell.number_format = number_format
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def write_summary(sheet, report: dict) -> None:
    header = write_titles(sheet, report)
    write_header(sheet, header, [_("Category"), *[str(FIGURE_LABELS[name]) for name in FIGURES]])
    rows = [(str(CATEGORY[c]), report["by_category"][c]) for c in CATEGORIES]
    rows.append((_("Total"), report["totals"]))
    for offset, (label, figures) in enumerate(rows, start=1):
        row = header + offset
        put(sheet, row, 1, label)
        for column, name in enumerate(FIGURES, start=2):
            put(sheet, row, column, figures[name], PERCENT if name in RATES else INTEGER)
    for column in range(1, len(FIGURES) + 2):
        sheet.cell(row=header + len(rows), column=column).font = HEADER_FONT
    fit_columns(sheet, header, wrapped={}, minimum=10)


def write_hazards(sheet, report: dict) -> None:
    header = write_titles(sheet, report)
    write_header(sheet, header, [_("No."), _("Severity"), _("Category"), _("Point"), _("Location"), _("Finding"),
                                 _("Control measures"), _("Deadline"), _("Status"), _("Escalated"), _("Overdue"),
                                 _("Assignee"), _("First seen")])
    for offset, hazard in enumerate(report["hazards"], start=1):
        row = header + offset
        values = [
            (hazard["id"], INTEGER), (str(SEVERITY.get(hazard["severity"], hazard["severity"])), None),
            (str(CATEGORY.get(hazard["category"], hazard["category"])), None), (hazard["point"] or "", None),
            (hazard["location"], None), (hazard["finding"], None), (hazard["measures"], None),
            (as_date(hazard["deadline"]), DAY), (str(STATUS.get(hazard["status"], hazard["status"])), None),
            (_("Yes") if hazard["escalated"] else "", None), (_("Yes") if hazard["overdue"] else "", None),
            (hazard["assignee"] or "", None), (as_date(hazard["first_seen"]), DAY),
        ]
        for column, (value, number_format) in enumerate(values, start=1):
            put(sheet, row, column, value, number_format, wrap=column in (5, 6, 7))
    fit_columns(sheet, header, wrapped={5: 24, 6: 36, 7: 30}, minimum=8)


def write_coverage(sheet, report: dict) -> None:
    header = write_titles(sheet, report)
    names = ("points", "checks_due", "checks_done", "missed", "completion_rate")
    write_header(sheet, header, [_("Area"), str(FIGURE_LABELS["points"]), str(FIGURE_LABELS["checks_due"]),
                                 str(FIGURE_LABELS["checks_done"]), _("Missed checks"),
                                 str(FIGURE_LABELS["completion_rate"])])
    for offset, area in enumerate(report["coverage_by_area"], start=1):
        row = header + offset
        put(sheet, row, 1, area["area"])
        for column, name in enumerate(names, start=2):
            put(sheet, row, column, area[name], PERCENT if name in RATES else INTEGER)
    fit_columns(sheet, header, wrapped={}, minimum=10)


def as_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def display_width(value) -> int:
    """Roughly how many narrow characters a value takes; CJK characters count twice."""
    if value is None:
        return 0
    if isinstance(value, (date, datetime)):
        return 10
    if isinstance(value, float):
        return 7
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


def fit_columns(sheet, header: int, wrapped: dict[int, int], minimum: int) -> None:
    """Wrapped columns get their set width; others fit their longest value (headers wrap past 16)."""
    widths: dict[int, int] = {}
    for row in sheet.iter_rows(min_row=header):
        for cell in row:
            width = display_width(cell.value)
            widths[cell.column] = max(widths.get(cell.column, 0), min(width, 16) if cell.row == header else width)
    for column, width in widths.items():
        chosen = wrapped.get(column) or max(minimum, width + 2)
        sheet.column_dimensions[get_column_letter(column)].width = min(chosen, MAX_WIDTH)
