"""District roll-up of schools' monthly report files: reading, combining, the XLSX, the command and the page."""
import copy
import io
import json

import openpyxl
import pytest
from helpers import csrf_from

from patrol.rollup import RollupError, RollupRefused, combine, district_xlsx, load_report, roll_up

CATEGORIES = ("fire", "electrical", "building", "facilities", "food", "security", "other")
COUNTS = ("points", "points_complete", "checks_due", "checks_done", "checks", "hazards_found",
          "hazards_found_general", "hazards_found_major", "hazards_rectified", "hazards_verified", "overdue",
          "escalated", "carried_over")


def figures(found_verified=0, **counts):
    """A FIGURES object as docs/report-schema.md has it; found_verified is the rectification rate's numerator."""
    values = dict.fromkeys(COUNTS, 0) | counts
    due, found = values["checks_due"], values["hazards_found"]
    return {
        "points": values["points"], "points_complete": values["points_complete"],
        "checks_due": due, "checks_done": values["checks_done"],
        "completion_rate": round(values["checks_done"] / due, 4) if due else None,
        "checks": values["checks"], "hazards_found": found,
        "hazards_found_general": values["hazards_found_general"],
        "hazards_found_major": values["hazards_found_major"],
        "hazards_rectified": values["hazards_rectified"], "hazards_verified": values["hazards_verified"],
        "rectification_rate": round(found_verified / found, 4) if found else None,
        "overdue": values["overdue"], "escalated": values["escalated"], "carried_over": values["carried_over"],
    }


def monthly_report(school, month="2026-10", categories=None, hazards=(), status="closed"):
    """A valid report: per-category counts (with found_verified) given, totals the sum of the categories."""
    categories = categories or {}
    summed = {key: sum(counts.get(key, 0) for counts in categories.values())
              for key in (*COUNTS, "found_verified")}
    return {
        "schema": "patrol.monthly-report",
        "version": 1,
        "month": month,
        "school": {"name": school, "campus_id": 1, "timezone": "Asia/Shanghai"},
        "status": status,
        "generated_at": "2026-11-01T01:00:00Z",
        "closed_at": "2026-11-01T01:00:00Z" if status == "closed" else None,
        "prepared_by": "李国强",
        "approved_by": "周建华" if status == "closed" else None,
        "totals": figures(**summed),
        "by_category": {key: figures(**categories.get(key, {})) for key in CATEGORIES},
        "coverage_by_area": [{"area": "教学楼A 1F", "points": 12, "checks_due": 310, "checks_done": 290,
                              "missed": 20, "completion_rate": 0.9355}],
        "hazards": list(hazards),
    }


def hazard(**fields):
    return {"id": 144, "category": "building", "severity": "major", "status": "assigned", "escalated": False,
            "overdue": True, "point": "SY-3F-EXIT-01", "location": "实验楼3楼东侧走廊", "finding": "走廊天花板渗水",
            "measures": "已设置警示标识", "deadline": "2026-10-15", "assignee": "赵德明",
            "first_seen": "2026-10-08"} | fields


def sample_reports():
    """Three schools whose averaged rates differ from the district's true rates."""
    east = monthly_report("滨江实验中学", categories={
        "fire": {"points": 10, "points_complete": 9, "checks_due": 100, "checks_done": 90, "checks": 95,
                 "hazards_found": 3, "hazards_found_general": 2, "hazards_found_major": 1, "found_verified": 2,
                 "hazards_rectified": 3, "hazards_verified": 4, "overdue": 1, "carried_over": 2},
        "electrical": {"points": 5, "points_complete": 5, "checks_due": 50, "checks_done": 50, "checks": 50},
    }, hazards=[hazard(severity="general", finding="=HYPERLINK(\"http://x\")", overdue=True, id=7),
                hazard(id=8)])
    west = monthly_report("城西小学", categories={
        "fire": {"points": 4, "points_complete": 1, "checks_due": 40, "checks_done": 10, "checks": 12,
                 "hazards_found": 1, "hazards_found_general": 1, "found_verified": 1, "hazards_verified": 1},
        "food": {"points": 3, "points_complete": 0, "checks_due": 60, "checks_done": 30, "checks": 30,
                 "hazards_found": 3, "hazards_found_major": 3, "escalated": 1, "overdue": 2},
    }, hazards=[hazard(category="food", location="食堂后厨", finding="燃气软管老化", escalated=True, id=3)],
        status="draft")
    quiet = monthly_report("北山幼儿园")  # nothing due, nothing found: both rates null
    return [("east.json", east), ("west.json", west), ("quiet.json", quiet)]


def as_bytes(report) -> bytes:
    return json.dumps(report, ensure_ascii=False).encode()


def refusal(name, data) -> str:
    with pytest.raises(RollupError) as caught:
        load_report(name, data)
    return str(caught.value)


# --- Combining --------------------------------------------------------------------------------------------

def test_schools_combine_into_summed_counts_and_recomputed_rates():
    district = combine([(name, load_report(name, as_bytes(report))) for name, report in sample_reports()])
    assert district.month == "2026-10"
    assert [school.name for school in district.schools] == ["滨江实验中学", "城西小学", "北山幼儿园"]
    east, west, quiet = (school.totals for school in district.schools)
    assert (east.checks_due, east.checks_done, east.completion_rate) == (150, 140, 0.9333)
    assert (east.hazards_found, east.rectification_rate) == (3, 0.6667)
    assert (west.completion_rate, west.rectification_rate) == (0.4, 0.25)
    assert (quiet.completion_rate, quiet.rectification_rate) == (None, None)
    totals = district.totals
    assert (totals.points, totals.points_complete, totals.checks_due, totals.checks_done, totals.checks) == (
        22, 15, 250, 180, 187)
    assert (totals.hazards_found, totals.hazards_found_general, totals.hazards_found_major) == (7, 3, 4)
    assert (totals.hazards_rectified, totals.hazards_verified) == (3, 5)
    assert (totals.overdue, totals.escalated, totals.carried_over) == (3, 1, 2)
    # Σ done ÷ Σ due, not the mean of 0.9333 and 0.4 (nor of three schools with one null)
    assert totals.completion_rate == 0.72
    # (2 + 1 + 0) found and verified ÷ 7 found; hazards_verified (5, older hazards included) is not the numerator
    assert totals.found_verified == 3 and totals.rectification_rate == 0.4286
    fire, food, electrical = (district.by_category[key] for key in ("fire", "food", "electrical"))
    assert (fire.checks_due, fire.checks_done, fire.completion_rate) == (140, 100, 0.7143)
    assert (fire.hazards_found, fire.found_verified, fire.rectification_rate) == (4, 3, 0.75)
    assert (food.hazards_found, food.rectification_rate, food.escalated) == (3, 0.0, 1)
    assert (electrical.completion_rate, electrical.rectification_rate) == (1.0, None)
    assert list(district.by_category) == list(CATEGORIES)
    assert district.drafts == 1


def test_hazards_are_listed_with_their_school_major_first():
    district = combine(sample_reports())
    assert [(school, listed["id"]) for school, listed in district.hazards] == [
        ("滨江实验中学", 8), ("城西小学", 3), ("滨江实验中学", 7)]


def test_two_schools_rectification_numerator_is_taken_back_from_rate_times_found():
    one = monthly_report("一中", categories={"other": {"hazards_found": 7, "found_verified": 5}})
    two = monthly_report("二中", categories={"other": {"hazards_found": 1, "found_verified": 1}})
    assert one["totals"]["rectification_rate"] == 0.7143
    district = combine([("1.json", one), ("2.json", two)])
    assert district.totals.found_verified == 6 and district.totals.rectification_rate == 0.75


def test_unknown_fields_are_ignored():
    report = monthly_report("一中")
    report["future_field"] = {"anything": 1}
    report["totals"]["new_figure"] = 3
    report["school"]["district"] = "滨江区"
    district = combine([("a.json", load_report("a.json", as_bytes(report)))])
    assert [school.name for school in district.schools] == ["一中"] and district.totals.checks_due == 0


# --- Refusals ---------------------------------------------------------------------------------------------

def test_an_unknown_schema_version_is_refused():
    report = monthly_report("一中") | {"version": 2}
    assert refusal("next.json", as_bytes(report)) == (
        "file next.json: schema version 2 is not supported (this server reads version 1)")


def test_another_schema_is_refused():
    message = refusal("points.json", as_bytes(monthly_report("一中") | {"schema": "patrol.points"}))
    assert message.startswith("file points.json: ") and '"patrol.points"' in message
    assert "patrol.monthly-report" in message
    assert "schema" in refusal("plain.json", as_bytes({"month": "2026-10"}))


def test_malformed_json_is_refused_with_where():
    message = refusal("broken.json", as_bytes(monthly_report("一中"))[:-5])
    assert message.startswith("file broken.json: not valid JSON (line 1, column")
    assert refusal("list.json", b"[1, 2]") == "file list.json: the file must hold a JSON object, not [1, 2]"
    assert refusal("empty.json", b"  \n") == "file empty.json: the file is empty"
    assert refusal("gbk.json", "{\"a\": \"中文\"}".encode("gb18030")) == "file gbk.json: the file is not UTF-8 text"
    assert refusal("deep.json", b"[" * 100_000 + b"]" * 100_000).startswith("file deep.json: not valid JSON")


@pytest.mark.parametrize("path, problem", [
    (("totals", "checks_done"), "totals.checks_done is missing"),
    (("by_category", "fire", "completion_rate"), "by_category.fire.completion_rate is missing"),
    (("school", "name"), "school.name must be the school's name, not null"),
    (("month",), "month must be YYYY-MM, not null"),
    (("totals",), "totals must be an object, not null"),
    (("by_category",), "by_category must be an object, not null"),
])
def test_a_missing_field_is_refused(path, problem):
    report = monthly_report("一中")
    *parents, last = path
    target = report
    for key in parents:
        target = target[key]
    del target[last]
    assert refusal("a.json", as_bytes(report)) == f"file a.json: {problem}"


@pytest.mark.parametrize("path, value, problem", [
    (("by_category", "fire", "points"), "12", 'by_category.fire.points must be a whole number from 0, not "12"'),
    (("totals", "checks_due"), 1.5, "totals.checks_due must be a whole number from 0, not 1.5"),
    (("totals", "overdue"), -1, "totals.overdue must be a whole number from 0, not -1"),
    (("totals", "escalated"), True, "totals.escalated must be a whole number from 0, not true"),
    (("totals", "completion_rate"), "95%", 'totals.completion_rate must be a number from 0 to 1 or null, not "95%"'),
    (("totals", "rectification_rate"), 1.2, "totals.rectification_rate must be a number from 0 to 1 or null, "
                                             "not 1.2"),
    (("month",), "2026-13", 'month must be YYYY-MM, not "2026-13"'),
    (("month",), "2026-1", 'month must be YYYY-MM, not "2026-1"'),
    (("school",), "一中", 'school must be an object, not "一中"'),
    (("version",), "1", 'version must be a whole number, not "1"'),
    (("by_category", "fire"), [], "by_category.fire must be an object, not []"),
    (("hazards",), {}, "hazards must be a list, not {}"),
    (("hazards",), [hazard(), "x"], 'hazards[1] must be an object, not "x"'),
])
def test_a_field_of_the_wrong_type_is_refused(path, value, problem):
    report = monthly_report("一中", categories={"fire": {"checks_due": 10, "checks_done": 5}})
    *parents, last = path
    target = report
    for key in parents:
        target = target[key]
    target[last] = value
    assert refusal("a.json", as_bytes(report)) == f"file a.json: {problem}"


def test_a_rate_that_does_not_fit_its_counts_is_refused():
    report = monthly_report("一中", categories={"fire": {"checks_due": 10, "checks_done": 5, "hazards_found": 3,
                                                        "found_verified": 1}})
    report["totals"]["rectification_rate"] = 0.5  # no whole number of 3 hazards
    assert refusal("a.json", as_bytes(report)) == (
        "file a.json: totals.rectification_rate is 0.5, which does not fit hazards_found = 3")
    report = monthly_report("一中", categories={"fire": {"checks_due": 10, "checks_done": 5}})
    report["totals"]["completion_rate"] = None
    assert refusal("a.json", as_bytes(report)) == (
        "file a.json: totals.completion_rate is null, which does not fit checks_due = 10")


def test_reports_of_different_months_are_refused_naming_files_and_months():
    with pytest.raises(RollupError) as caught:
        combine([("a.json", monthly_report("一中")), ("b.json", monthly_report("二中", month="2026-09")),
                 ("c.json", monthly_report("三中"))])
    assert str(caught.value) == ("files a.json, b.json, c.json: the reports are for different months "
                                 "(2026-09: b.json; 2026-10: a.json, c.json); a roll-up combines one month")


def test_the_same_school_twice_is_refused():
    with pytest.raises(RollupError) as caught:
        combine([("a.json", monthly_report("一中")), ("b.json", monthly_report("二中")),
                 ("a-again.json", monthly_report(" 一中 "))])
    assert str(caught.value) == "files a.json, a-again.json: both are reports of 一中; each school is rolled up once"


def test_an_empty_upload_is_refused():
    with pytest.raises(RollupError, match="no report files were given"):
        combine([])
    with pytest.raises(RollupRefused) as caught:
        roll_up([])
    assert [str(error) for error in caught.value.errors] == ["no report files were given"]


def test_combine_checks_reports_it_is_given_directly():
    broken = copy.deepcopy(monthly_report("一中"))
    del broken["totals"]["overdue"]
    with pytest.raises(RollupError, match="^file a.json: totals.overdue is missing$"):
        combine([("a.json", broken)])


def test_roll_up_lists_every_bad_file():
    with pytest.raises(RollupRefused) as caught:
        roll_up([("good.json", as_bytes(monthly_report("一中"))), ("bad.json", b"{"),
                 ("v2.json", as_bytes(monthly_report("二中") | {"version": 2}))])
    messages = [str(error) for error in caught.value.errors]
    assert len(messages) == 2 and messages[0].startswith("file bad.json: not valid JSON")
    assert messages[1].startswith("file v2.json: schema version 2")


# --- The spreadsheet --------------------------------------------------------------------------------------

def workbook(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def column(sheet, header) -> int:
    return [cell.value for cell in sheet[1]].index(header) + 1


def test_xlsx_has_a_row_per_school_the_total_percent_formats_and_frozen_headers():
    book = workbook(district_xlsx(combine(sample_reports())))
    assert book.sheetnames == ["Schools", "Categories", "Hazards"]
    schools = book["Schools"]
    names = [schools.cell(row, 1).value for row in range(2, schools.max_row + 1)]
    assert names == ["滨江实验中学", "城西小学", "北山幼儿园", "District total"]
    due, done, rate = (column(schools, header) for header in ("Checks due", "Checks done", "Completion rate"))
    found, fixed = column(schools, "Hazards found"), column(schools, "Rectification rate")
    assert [schools.cell(row, due).value for row in range(2, 6)] == [150, 100, 0, 250]
    assert [schools.cell(row, done).value for row in range(2, 6)] == [140, 40, 0, 180]
    assert [schools.cell(row, rate).value for row in range(2, 6)] == [0.9333, 0.4, None, 0.72]
    assert [schools.cell(row, found).value for row in range(2, 6)] == [3, 4, 0, 7]
    assert [schools.cell(row, fixed).value for row in range(2, 6)] == [0.6667, 0.25, None, 0.4286]
    assert all(schools.cell(row, col).number_format == "0.0%" for row in range(2, 6) for col in (rate, fixed))
    assert schools.cell(2, due).number_format == "General"
    assert schools.cell(5, 1).font.b and not schools.cell(4, 1).font.b
    assert schools.cell(3, column(schools, "Status")).value == "Draft"
    assert schools.cell(2, column(schools, "File")).value == "east.json"
    assert schools.freeze_panes == "B2"
    assert schools.column_dimensions["A"].width >= 14 and schools.column_dimensions["T"].width >= 8

    categories = book["Categories"]
    assert [categories.cell(row, 1).value for row in range(2, categories.max_row + 1)] == [
        "Fire safety", "Electrical", "Buildings", "Facilities and equipment", "Canteen and food",
        "Security and gates", "Other", "District total"]
    fire = [cell.value for cell in categories[2]]
    assert fire[column(categories, "Checks due") - 1] == 140
    assert fire[column(categories, "Completion rate") - 1] == 0.7143
    assert fire[column(categories, "Rectification rate") - 1] == 0.75
    assert categories.cell(2, column(categories, "Completion rate")).number_format == "0.0%"
    assert categories.freeze_panes == "B2"

    hazards = book["Hazards"]
    rows = list(hazards.iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[1]) for row in rows] == [("滨江实验中学", "Major"), ("城西小学", "Major"),
                                                  ("滨江实验中学", "General")]
    finding = column(hazards, "Finding")
    assert rows[1][finding - 1] == "燃气软管老化" and rows[1][column(hazards, "Escalated") - 1] == "Yes"
    formula = hazards.cell(4, finding)
    assert formula.value == '=HYPERLINK("http://x")' and formula.data_type == "s"  # text, never a formula
    deadline = hazards.cell(2, column(hazards, "Deadline"))
    assert deadline.value.date().isoformat() == "2026-10-15" and deadline.number_format == "yyyy-mm-dd"
    assert hazards.freeze_panes == "B2"


# --- The command ------------------------------------------------------------------------------------------

def write_reports(tmp_path, reports):
    paths = []
    for name, report in reports:
        path = tmp_path / name
        path.write_bytes(as_bytes(report) if isinstance(report, dict) else report)
        paths.append(str(path))
    return paths


def test_cli_rollup_writes_the_district_xlsx(app, tmp_path):
    paths = write_reports(tmp_path, sample_reports())
    out = tmp_path / "district.xlsx"
    result = app.test_cli_runner().invoke(args=["rollup", *paths, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"3 schools, month 2026-10 → {out}\n"
    book = workbook(out.read_bytes())
    assert [book.worksheets[0].cell(row, 5).value for row in range(2, 6)] == [150, 100, 0, 250]
    assert book.worksheets[1].cell(2, 1).value == "消防安全"  # Chinese by default

    english = tmp_path / "district-en.xlsx"
    result = app.test_cli_runner().invoke(args=["rollup", *paths[:2], "--out", str(english), "--lang", "en"])
    assert result.exit_code == 0 and result.output.startswith("2 schools, month 2026-10 → ")
    book = workbook(english.read_bytes())
    single = app.test_cli_runner().invoke(args=["rollup", paths[2], "--out", str(tmp_path / "one.xlsx")])
    assert single.output == f"1 school, month 2026-10 → {tmp_path / 'one.xlsx'}\n"
    assert book.sheetnames == ["Schools", "Categories", "Hazards"]
    assert book["Categories"].cell(2, 1).value == "Fire safety"
    assert book["Schools"].cell(4, 1).value == "District total"


def test_cli_rollup_refuses_bad_files_and_writes_nothing(app, tmp_path):
    good = sample_reports()[:2]
    paths = write_reports(tmp_path, [*good, ("v2.json", monthly_report("三中") | {"version": 2}),
                                     ("broken.json", b'{"schema": ')])
    out = tmp_path / "district.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["rollup", *paths, "--out", str(out)])
    assert result.exit_code == 1
    assert f"file {paths[2]}: schema version 2 is not supported (this server reads version 1)" in result.output
    assert f"file {paths[3]}: not valid JSON" in result.output
    assert "was not written" in result.output and not out.exists()

    september = write_reports(tmp_path, [("sep.json", monthly_report("三中", month="2026-09"))])
    result = runner.invoke(args=["rollup", *paths[:2], *september, "--out", str(out)])
    assert result.exit_code == 1 and "different months" in result.output and "2026-09: " in result.output
    assert not out.exists()

    result = runner.invoke(args=["rollup", paths[0], str(tmp_path / "missing.json"), "--out", str(out)])
    assert result.exit_code == 1 and f"file {tmp_path / 'missing.json'}: cannot be read" in result.output
    assert not out.exists()


# --- The page ---------------------------------------------------------------------------------------------

def upload(client, reports, button="show", lang="en"):
    client.post("/locale", data={"locale": lang, "next": "/", "csrf_token": csrf_from(client.get("/"))})
    token = csrf_from(client.get("/district/rollup"))
    files = [(io.BytesIO(report if isinstance(report, bytes) else as_bytes(report)), name)
             for name, report in reports]
    return client.post("/district/rollup", data={"csrf_token": token, "reports": files, button: "1"},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("role", ["viewer", "admin", "officer"])
def test_the_page_shows_each_school_and_the_district_totals(app, campus, client, auth, role):
    auth.login(role)
    page = client.get("/district/rollup")
    assert page.status_code == 200 and 'type="file"' in page.get_data(as_text=True)
    response = upload(client, sample_reports())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2026-10 · 3 schools" in html and "1 of these reports is a draft" in html
    for name in ("滨江实验中学", "城西小学", "北山幼儿园", "燃气软管老化"):
        assert name in html
    total = html[html.index('id="rollup-total"'):html.index("</tfoot>")]
    for figure in ("<td>22</td>", "<td>250</td>", "<td>180</td>", "<td>72.0%</td>", "<td>7</td>", "<td>42.9%</td>"):
        assert figure in total
    assert "<td>93.3%</td>" in html and "<td>—</td>" in html
    assert 'id="rollup-errors"' not in html


def test_the_download_button_sends_the_xlsx(app, campus, client, auth):
    auth.login("viewer")
    response = upload(client, sample_reports()[:2], button="download", lang="zh")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'attachment; filename=district-2026-10.xlsx' in response.headers["Content-Disposition"]
    book = workbook(response.data)
    assert [book.worksheets[0].cell(row, 5).value for row in range(2, 5)] == [150, 100, 250]  # checks due
    assert book.worksheets[1].cell(2, 1).value == "消防安全"  # the user's locale


def test_errors_are_shown_with_422_and_nothing_is_produced(app, campus, client, auth):
    auth.login("admin")
    response = upload(client, [("east.json", sample_reports()[0][1]), ("bad.json", b"not json"),
                               ("v2.json", monthly_report("二中") | {"version": 2})], button="download")
    assert response.status_code == 422 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "file bad.json: not valid JSON (line 1, column 1: Expecting value)" in html
    assert "file v2.json: schema version 2 is not supported (this server reads version 1)" in html
    assert 'id="rollup-result"' not in html

    response = upload(client, [("a.json", monthly_report("一中")), ("b.json", monthly_report("一中"))])
    assert response.status_code == 422
    assert "files a.json, b.json: both are reports of 一中" in response.get_data(as_text=True)

    token = csrf_from(client.get("/district/rollup"))
    response = client.post("/district/rollup", data={"csrf_token": token, "show": "1",
                                                     "reports": (io.BytesIO(b""), "")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose one or more monthly report files." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["guard", "repairer"])
def test_guards_and_repairers_may_not_roll_up(app, campus, client, auth, role):
    auth.login(role)
    assert client.get("/district/rollup").status_code == 403
    token = csrf_from(client.get("/"))
    response = client.post("/district/rollup", data={"csrf_token": token, "show": "1",
                                                     "reports": (io.BytesIO(as_bytes(monthly_report("一中"))),
                                                                 "a.json")},
                           content_type="multipart/form-data")
    assert response.status_code == 403


# --- A real report ----------------------------------------------------------------------------------------

def test_a_report_built_by_the_school_server_rolls_up(app, campus):
    from datetime import datetime, timedelta

    from patrol.extensions import db
    from patrol.models import Campus, Hazard, Point
    from patrol.monthly import build_report, last_month

    with app.app_context():
        school = db.session.get(Campus, campus["campus_id"])
        month = last_month(school)
        middle = datetime.combine(month.start + timedelta(days=10), datetime.min.time())
        exit_point = db.session.query(Point).filter_by(code="P-EXIT").one()
        db.session.add_all([
            Hazard(campus_id=school.id, point_id=exit_point.id, area_id=exit_point.area_id, category="fire",
                   severity="major", status="reported", description="安全出口堵塞", first_seen_at=middle,
                   last_seen_at=middle, deadline=month.start + timedelta(days=12)),
            Hazard(campus_id=school.id, point_id=exit_point.id, area_id=exit_point.area_id, category="fire",
                   severity="general", status="verified", description="指示灯不亮", first_seen_at=middle,
                   last_seen_at=middle, verified_at=middle + timedelta(days=1),
                   closed_at=middle + timedelta(days=1)),
        ])
        db.session.commit()
        built = build_report(school, month)
        data = json.dumps(built, ensure_ascii=False).encode()
        month_label = month.label

    report = load_report("school.json", data)
    assert report["schema"] == "patrol.monthly-report" and report["version"] == 1
    district = combine([("school.json", report)])
    assert district.month == month_label and [s.name for s in district.schools] == ["示范中学"]
    for key in ("points", "checks_due", "checks_done", "completion_rate", "hazards_found", "rectification_rate",
                "overdue"):
        assert district.totals.value(key) == built["totals"][key], key
        assert district.by_category["fire"].value(key) == built["by_category"]["fire"][key], key
    assert district.totals.checks_due > 0 and district.totals.hazards_found == 2
    assert [listed["finding"] for _school, listed in district.hazards] == ["安全出口堵塞"]
    book = workbook(district_xlsx(district))
    assert book.worksheets[0].cell(3, 1).value == "District total"
