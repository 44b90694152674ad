"""Points in bulk: import a CSV or XLSX sheet (every row or none), export CSV; retiring a point."""
from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .extensions import db
from .label_sheet import scan_url
from .models import Area, Campus, Point, PointType
from .points import cadence_for, reactivate_point, retire_point

MAX_PER_PERIOD = 100
MAX_ROWS = 10_000
WHOLE_FILE = 0  # the line number of problems with the file rather than one of its rows

# Header text (lower case, spaces and dashes as underscores) -> field.
HEADERS = {
    "code": "code", "编号": "code",
    "name": "name", "名称": "name",
    "area": "area", "区域": "area",
    "type": "type", "类型": "type",
    "location": "location", "位置": "location",
    "cadence": "cadence", "周期": "cadence",
    "per_period": "per_period", "次数": "per_period",
    "building": "building", "楼栋": "building",
    "floor": "floor", "楼层": "floor",
    "active": "active", "启用": "active",
}
REQUIRED = ("code", "name", "area", "type")
HEADER_HINTS = {"code": "code / 编号", "name": "name / 名称", "area": "area / 区域", "type": "type / 类型"}
CADENCE_WORDS = {
    "daily": "daily", "日": "daily", "每日": "daily", "每天": "daily",
    "weekly": "weekly", "周": "weekly", "每周": "weekly",
    "monthly": "monthly", "月": "monthly", "每月": "monthly",
}
YES = {"yes", "y", "true", "1", "是"}
NO = {"no", "n", "false", "0", "否"}
LENGTHS = {"code": Point.code, "name": Point.name, "area": Area.name, "location": Point.location,
           "building": Area.building, "floor": Area.floor}
EXPORT_COLUMNS = ("code", "name", "area", "type", "location", "cadence", "per_period", "active", "scan_url")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Row:
    """One good line of the file, ready to save."""

    code: str
    name: str
    area: str
    point_type: PointType
    location: str
    cadence: str
    per_period: int
    active: bool | None  # None: leave as it is (new points are active)
    building: str
    floor: str


class FileProblem(Exception):
    def __init__(self, reason: str, line: int = WHOLE_FILE):
        super().__init__(reason)
        self.reason, self.line = reason, line


def import_points(campus: Campus, filename: str, data: bytes,
                  before_commit: Callable[[ImportResult], object] | None = None) -> ImportResult:
    """Create or update the campus's points from a CSV or XLSX file; if any row is bad, change nothing.

    before_commit(result) runs once the rows are in the session, so what it adds (an audit entry) is
    committed with them or not at all.
    """
    try:
        table = read_table(filename, data)
    except FileProblem as problem:
        return ImportResult(errors=[(problem.line, problem.reason)])
    rows, errors = parse_rows(table)
    if errors:
        return ImportResult(errors=errors)
    return save(campus, rows, before_commit)


def read_table(filename: str, data: bytes) -> list[tuple[int, list[str]]]:
    """The non-blank lines of the file as (line number, cells), the header first."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in ("csv", "xlsx"):
        raise FileProblem(_("Only .csv and .xlsx files can be imported."))
    if not data.strip():
        raise FileProblem(_("The file is empty."))
    lines = read_csv(data) if suffix == "csv" else read_xlsx(data)
    table = [(n, cells) for n, cells in lines if any(cell.strip() for cell in cells)]
    for n, cells in table:
        if any("\x00" in cell for cell in cells):
            raise FileProblem(_("This line holds a NUL character: the file is damaged or not a table."), line=n)
    if not table:
        raise FileProblem(_("The file is empty."))
    if len(table) == 1:
        raise FileProblem(_("The file has a header but no points below it."), line=table[0][0])
    if len(table) > MAX_ROWS + 1:
        raise FileProblem(_("The file has more than %(max)d points; split it into smaller files.", max=MAX_ROWS))
    return table


def first_rows(rows: Iterable[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """rows, stopping one past the most a file may hold: enough to refuse it without reading it all."""
    kept, filled = [], 0
    for number, cells in rows:
        kept.append((number, cells))
        filled += any(cell.strip() for cell in cells)
        if filled > MAX_ROWS + 1:
            break
    return kept


def decode(data: bytes) -> str:
    """The text of a CSV file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    else:
        # Excel on Chinese Windows saves "CSV" in GB18030; valid UTF-8 is almost never valid by accident.
        encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileProblem(_("The file is not text in UTF-8 or GB18030; save it again as CSV (UTF-8)."))


def read_csv(data: bytes) -> list[tuple[int, list[str]]]:
    text = decode(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=max(",;\t", key=first.count))

    def records():
        last = 0
        for cells in reader:
            # A quoted cell may span lines: a record is numbered by the line it starts on.
            yield last + 1, cells
            last = reader.line_num

    try:
        return first_rows(records())
    except csv.Error as exc:
        raise FileProblem(_("This is not a readable CSV file (%(problem)s).", problem=str(exc)),
                          line=reader.line_num) from None


def read_xlsx(data: bytes) -> list[tuple[int, list[str]]]:
    """The first sheet's rows as text, numbered as Excel numbers them."""
    import openpyxl

    with warnings.catch_warnings():
        # openpyxl warns about styles and extensions it skips; they do not touch cell values.
        warnings.simplefilter("ignore")
        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # a damaged or foreign file can fail in many ways inside the zip and XML readers
            raise FileProblem(_("This file cannot be read as an Excel workbook (.xlsx).")) from None
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            return first_rows((number, [cell_text(value) for value in values])
                              for number, values in enumerate(rows, start=1))
        finally:
            workbook.close()


def cell_text(value) -> str:
    """A spreadsheet cell as the text a person reads in it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def header_key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def read_header(line: int, cells: list[str]) -> tuple[dict[str, int], dict[str, str], list[tuple[int, str]]]:
    """Each known field's column index and header as written, and what is wrong with the header."""
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    errors = []
    for index, text in enumerate(cells):
        name = HEADERS.get(header_key(text))
        if name is None:
            continue  # extra columns (scan_url, notes...) are left alone
        if name in columns:
            errors.append((line, _("Column “%(column)s” appears twice.", column=text.strip())))
        columns[name], headers[name] = index, text.strip()
    for name in REQUIRED:
        if name not in columns:
            errors.append((line, _("Missing column “%(column)s”.", column=HEADER_HINTS[name])))
    return columns, headers, errors


def type_lookup() -> dict[str, PointType]:
    """Point types by key, Chinese name and English name, case-insensitive."""
    point_types = list(db.session.scalars(select(PointType)))
    lookup = {name.strip().lower(): t for t in point_types for name in (t.name_zh, t.name_en)}
    lookup.update({t.key.lower(): t for t in point_types})  # a key wins over a name that happens to match it
    return lookup


def parse_rows(table: list[tuple[int, list[str]]]) -> tuple[list[Row], list[tuple[int, str]]]:
    """The rows of the file checked one by one: good rows, and (line, reason) for each problem."""
    header_line, header = table[0]
    columns, headers, errors = read_header(header_line, header)
    if errors:
        return [], errors
    types = type_lookup()
    first_line: dict[str, int] = {}
    rows = []
    for line, cells in table[1:]:
        values = {name: cells[index].strip() if index < len(cells) else "" for name, index in columns.items()}
        problems = check_row(values, headers, types)
        code = values["code"]
        if code and code in first_line:
            problems.append(_("Code “%(code)s” is also on line %(line)d.", code=code, line=first_line[code]))
        first_line.setdefault(code, line)
        if problems:
            errors += [(line, problem) for problem in problems]
            continue
        point_type = types[values["type"].lower()]
        count = int(values["per_period"]) if values.get("per_period") else None
        cadence = CADENCE_WORDS.get(values.get("cadence", "").lower(), "")
        cadence, per_period = cadence_for(point_type, cadence, count)
        active = values.get("active", "").lower()
        rows.append(Row(code=code, name=values["name"], area=values["area"], point_type=point_type,
                        location=values.get("location", ""), cadence=cadence, per_period=per_period,
                        active=None if not active else active in YES,
                        building=values.get("building", ""), floor=values.get("floor", "")))
    return rows, errors


def check_row(values: dict[str, str], headers: dict[str, str], types: dict[str, PointType]) -> list[str]:
    """Every reason this row cannot be imported, in column order."""
    problems = []
    for name in REQUIRED:
        if not values[name]:
            problems.append(_("“%(column)s” is empty; it is required.", column=headers[name]))
    for name, column in LENGTHS.items():
        limit = column.property.columns[0].type.length
        if len(values.get(name, "")) > limit:
            problems.append(_("“%(column)s” is too long: at most %(max)d characters.",
                              column=headers[name], max=limit))
    if values["type"] and values["type"].lower() not in types:
        problems.append(_("Unknown point type “%(value)s”.", value=values["type"]))
    cadence = values.get("cadence", "")
    if cadence and cadence.lower() not in CADENCE_WORDS:
        problems.append(_("Unknown cadence “%(value)s”: use daily, weekly or monthly.", value=cadence))
    count = values.get("per_period", "")
    if count:
        if not re.fullmatch(r"[+-]?[0-9]{1,9}", count):
            problems.append(_("“%(column)s” must be a whole number, not “%(value)s”.",
                              column=headers["per_period"], value=count))
        elif int(count) < 1:
            problems.append(_("“%(column)s” must be at least 1, not %(value)s.",
                              column=headers["per_period"], value=count))
        elif int(count) > MAX_PER_PERIOD:
            problems.append(_("“%(column)s” must be at most %(max)d.", column=headers["per_period"],
                              max=MAX_PER_PERIOD))
    active = values.get("active", "").lower()
    if active and active not in YES | NO:
        problems.append(_("“%(column)s” must be yes or no, not “%(value)s”.",
                          column=headers["active"], value=values["active"]))
    return problems


def save(campus: Campus, rows: list[Row],
         before_commit: Callable[[ImportResult], object] | None = None) -> ImportResult:
    """Write every row in one transaction: new codes are created, known codes updated."""
    areas = {a.name: a for a in db.session.scalars(select(Area).where(Area.campus_id == campus.id))}
    points = {p.code: p for p in db.session.scalars(select(Point).where(Point.campus_id == campus.id))}
    result = ImportResult()
    with db.session.no_autoflush:
        for row in rows:
            area = areas.get(row.area)
            if area is None:
                area = areas[row.area] = Area(campus_id=campus.id, name=row.area, building=row.building,
                                              floor=row.floor)
                db.session.add(area)
            point = points.get(row.code)
            if point is None:
                point = points[row.code] = Point(campus_id=campus.id, code=row.code, active=True)
                db.session.add(point)
                result.created += 1
            else:
                result.updated += 1
            point.name, point.location, point.area, point.point_type = row.name, row.location, area, row.point_type
            point.cadence, point.per_period = row.cadence, row.per_period
            if row.active is False:
                retire_point(point)
            elif row.active and not point.active:
                reactivate_point(point)
    try:
        if before_commit is not None:
            before_commit(result)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return ImportResult(errors=[(WHOLE_FILE, _("Someone changed these points while the file was being "
                                                   "imported. Nothing was imported; please try again."))])
    return result


def export_points_csv(campus: Campus) -> str:
    """Every point of the campus as CSV, in the columns import_points reads back, plus its scan URL."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    stmt = (select(Point).where(Point.campus_id == campus.id)
            .options(selectinload(Point.area), selectinload(Point.point_type)).order_by(Point.code))
    for point in db.session.scalars(stmt):
        writer.writerow([point.code, point.name, point.area.name, point.point_type.key, point.location,
                         point.cadence, point.per_period, "yes" if point.active else "no", scan_url(point)])
    return out.getvalue()
