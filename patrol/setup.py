"""First-run set-up: the default point types and their checklists."""
from sqlalchemy import select

from .checklists import DEFAULT_TYPES
from .extensions import db
from .models import ChecklistItem, PointType


def ensure_point_types() -> int:
    """Add the default point types that are missing (existing ones are left as edited); returns how many."""
    existing = set(db.session.scalars(select(PointType.key)))
    added = 0
    for spec in DEFAULT_TYPES:
        if spec["key"] in existing:
            continue
        point_type = PointType(key=spec["key"], name_zh=spec["name_zh"], name_en=spec["name_en"],
                               cadence=spec["cadence"], per_period=spec["per_period"])
        for position, (key, zh, en, category, severity, photo) in enumerate(spec["items"]):
            point_type.items.append(ChecklistItem(key=key, position=position, text_zh=zh, text_en=en,
                                                  category=category, severity=severity, photo_required=photo))
        db.session.add(point_type)
        added += 1
    db.session.commit()
    return added
