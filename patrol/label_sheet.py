"""Choosing the points for a QR label sheet and describing each label."""
from __future__ import annotations

from flask import current_app, url_for
from sqlalchemy import select

from .extensions import db
from .models import Area, Campus, Point, PointType
from .qr import Label


def scan_url(point: Point) -> str:
    """{PATROL_BASE_URL}/p/{token}; without a base URL, the address this request came in on."""
    base = current_app.config.get("PATROL_BASE_URL")
    if base:
        return f"{base}/p/{point.token}"
    return url_for("scan.check_form", token=point.token, _external=True)


def label_points(campus: Campus, areas=(), types=(), area_ids=()) -> list[Point]:
    """Active points of the campus, optionally only these area names/ids and type keys, in code order."""
    stmt = (select(Point).join(Point.area).join(Point.point_type)
            .where(Point.campus_id == campus.id, Point.active).order_by(Area.name, Point.code))
    if areas:
        stmt = stmt.where(Area.name.in_(areas))
    if area_ids:
        stmt = stmt.where(Area.id.in_(area_ids))
    if types:
        stmt = stmt.where(PointType.key.in_(types))
    return list(db.session.scalars(stmt))


def labels_for(campus: Campus, points: list[Point]) -> list[Label]:
    school = current_app.config.get("PATROL_SCHOOL_NAME") or campus.name
    return [Label(url=scan_url(p), name=p.name, code=p.code, location=p.location, school=school)
            for p in points]
