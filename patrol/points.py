"""Rules about points shared by the admin pages and the importer: cadence defaults, retiring."""
from __future__ import annotations

from .models import Point, PointType, utcnow


def cadence_for(point_type: PointType, cadence: str = "", per_period: int | None = None) -> tuple[str, int]:
    """The cadence and count per period a point gets: as given, else what its type suggests."""
    cadence = cadence or point_type.cadence
    if per_period is None:
        # The type's count belongs to the type's cadence: three rounds a day is not three a month.
        per_period = point_type.per_period if cadence == point_type.cadence else 1
    return cadence, per_period


def retire_point(point: Point) -> None:
    """Take a point out of scans, labels and lists, keeping its history."""
    if point.active:
        point.active, point.retired_at = False, utcnow()


def reactivate_point(point: Point) -> None:
    point.active, point.retired_at = True, None
