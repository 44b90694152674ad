"""A realistic demo school for first start: buildings, points, users, and weeks of checks and hazards."""
from __future__ import annotations

import hashlib
import io
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from sqlalchemy import func, insert, select, text
from werkzeug.security import generate_password_hash

from . import photos
from .extensions import db
from .models import (
    OPEN_HAZARD_STATES,
    Area,
    Campus,
    Check,
    CheckResult,
    Hazard,
    HazardEvent,
    Notification,
    Photo,
    Point,
    PointType,
    User,
)
from .setup import ensure_point_types

CAMPUS_NAME = "滨江实验中学"
TIMEZONE = "Asia/Shanghai"

# (username, role, display name); the first five are the logins the README and `serve` show.
USERS = [
    ("admin", "admin", "周建华"),
    ("officer", "officer", "李国强"),
    ("guard", "guard", "张建军"),
    ("repairer", "repairer", "赵德明"),
    ("viewer", "viewer", "孙丽华"),
    ("guard2", "guard", "王立新"),
    ("guard3", "guard", "刘春生"),
    ("repairer2", "repairer", "陈永福"),
]

TYPE_CODES = {"extinguisher": "EXT", "hydrant": "HYD", "panel": "PNL", "classroom": "CLS",
              "exit": "EXIT", "canteen_gas": "GAS", "dorm": "DRM", "gate": "GATE"}

# Local start (hour, minute) of each daily round, one per check of the day: exits before
# lessons, gas after lunch service, classrooms at the end of the day (五关), gates 一日三巡.
DAILY_ROUNDS = {
    "exit": [(7, 0)],
    "classroom": [(17, 20)],
    "canteen_gas": [(13, 5)],
    "gate": [(6, 45), (12, 10), (20, 40)],
}
DEFAULT_ROUNDS = [(8, 0), (12, 0), (17, 30)]
# Seconds from one point to the next, looking included.
GAPS = {"classroom": (50, 120), "exit": (40, 110), "canteen_gas": (120, 300), "gate": (150, 420),
        "dorm": (120, 300), "extinguisher": (60, 200), "hydrant": (60, 200), "panel": (120, 420)}
INDOOR_GUARD = {"教学楼A": "guard", "教学楼B": "guard", "教学楼C": "guard", "实验楼": "guard"}

# Fixed-date school holidays (元旦, 劳动节, 国庆); weekends are off too.
HOLIDAYS = {(1, 1)} | {(5, d) for d in range(1, 6)} | {(10, d) for d in range(1, 8)}

# What guards write when an item fails, and how often it fails relative to the others.
FAILS = {
    ("extinguisher", "placement"): (2.0, ["灭火器箱被拖把和纸箱挡住", "灭火器被挪到教室门后，未放在指定位置", "灭火器箱门卡住打不开"]),
    ("extinguisher", "nameplate"): (0.8, ["铭牌褪色看不清", "灭火器铭牌朝里放置"]),
    ("extinguisher", "pin_seal"): (1.0, ["保险销缺失", "铅封断开，疑似被学生拔过"]),
    ("extinguisher", "pressure"): (1.5, ["压力表指针在红区", "压力表指针接近红区，压力不足"]),
    ("extinguisher", "body"): (0.8, ["筒体底部锈蚀", "筒体有明显凹痕"]),
    ("extinguisher", "hose"): (0.6, ["喷管老化龟裂", "喷嘴被纸屑堵塞"]),
    ("extinguisher", "service_date"): (1.0, ["已超过维修期限，标签显示上次维修为2021年", "已到报废年限，需更换"]),
    ("extinguisher", "type_fit"): (0.3, ["配电间配置的是水基型灭火器，应配二氧化碳或干粉灭火器"]),
    ("hydrant", "cabinet"): (1.2, ["消火栓箱门玻璃破碎", "箱门被展板挡住无法打开", "箱门锁损坏"]),
    ("hydrant", "valve"): (0.8, ["阀门手轮缺失", "阀门处渗水，地面有积水"]),
    ("hydrant", "hose"): (1.0, ["水带未连接水枪", "水带有破损", "水枪缺失"]),
    ("hydrant", "clear"): (1.2, ["箱内堆放扫把等杂物", "箱内放有学生篮球"]),
    ("panel", "clearance"): (1.5, ["配电箱前堆放课桌椅", "配电间堆放纸箱杂物"]),
    ("panel", "cover"): (1.0, ["箱门未上锁", "箱门无法关闭，带电部位裸露"]),
    ("panel", "labels"): (1.0, ["回路标识脱落", "未张贴“当心触电”警示标志"]),
    ("panel", "heat"): (0.5, ["空开附近有焦糊味", "箱体明显发热"]),
    ("panel", "rcd"): (0.5, ["漏电保护器按试验按钮不跳闸", "漏电保护器损坏"]),
    ("panel", "wiring"): (0.8, ["箱内有临时接线", "私拉电线给饮水机供电"]),
    ("classroom", "doors_windows"): (1.0, ["后门门锁损坏", "窗户玻璃有裂纹", "窗户限位器脱落"]),
    ("classroom", "sockets"): (0.7, ["插座面板破损", "教室内使用电热水壶", "讲台下插座松动"]),
    ("classroom", "hanging"): (0.3, ["吊扇晃动明显，固定螺丝松动", "投影仪吊架螺丝松动", "音箱支架松脱"]),
    ("classroom", "exit_route"): (0.8, ["后门口堆放纸箱", "过道堆放书箱，通道变窄"]),
    ("classroom", "five_off"): (1.6, ["放学后空调未关", "放学后灯未关", "窗户未关", "饮水机未断电", "多媒体一体机未关"]),
    ("exit", "unblocked"): (1.2, ["安全出口堆放杂物", "楼梯口堆放清洁工具", "安全出口门被铁链锁住"]),
    ("exit", "signs_lights"): (1.3, ["应急照明灯不亮", "疏散指示标志灯不亮", "疏散指示标志被海报遮挡"]),
    ("exit", "fire_doors"): (0.8, ["常闭式防火门被木楔顶开", "防火门闭门器损坏", "防火卷帘下放置桌椅"]),
    ("canteen_gas", "alarm"): (0.6, ["燃气报警器显示故障", "报警器电源未接通"]),
    ("canteen_gas", "hoses"): (0.5, ["灶具连接软管老化开裂", "使用了橡胶软管，应换成金属波纹管"]),
    ("canteen_gas", "flame_failure"): (0.5, ["3号灶熄火保护失灵"]),
    ("canteen_gas", "cylinders"): (0.5, ["气瓶超过检验期", "气瓶倒放在灶台下"]),
    ("canteen_gas", "valves_closed"): (1.2, ["午餐后燃气总阀未关闭", "灶具阀门未关"]),
    ("dorm", "appliances"): (8.0, ["宿舍内发现热得快", "查获电热毯一条", "学生使用电煮锅"]),
    ("dorm", "power_strips"): (6.0, ["插线板串接使用", "床头私拉电线"]),
    ("dorm", "exit_kit"): (3.0, ["走廊应急灯不亮", "楼层灭火器过期", "走廊堆放行李箱"]),
    ("gate", "visitor_log"): (1.0, ["来访登记缺少离校时间", "中午来访人员未登记"]),
    ("gate", "gate_locked"): (0.8, ["晚间侧门未上锁"]),
    ("gate", "cctv"): (0.6, ["2号摄像头画面黑屏", "监控录像硬盘报警"]),
    ("gate", "fence"): (0.3, ["围栏有一处断裂", "围墙外侧有攀爬痕迹，刺网损坏"]),
}
NEW_DEFECT_RATE = 0.005  # per item and check, before the weight above
# A defect still there is noticed again, less often once it is cordoned off or waits for funding.
STILL_FAILING = {"reported": 0.9, "assigned": 0.6, "escalated": 0.15}

RECTIFY_NOTES = {
    "extinguisher": {"pressure": "已更换合格灭火器，原灭火器送检充装", "service_date": "已更换新灭火器",
                     "pin_seal": "已更换灭火器并重新加装铅封", "placement": "已清理遮挡物，灭火器放回原位",
                     "": "已整改，灭火器恢复正常"},
    "hydrant": {"valve": "已更换阀门手轮，渗漏已处理", "hose": "已更换水带并重新连接水枪",
                "cabinet": "已更换箱门玻璃和门锁", "": "已清理，消火栓箱恢复正常"},
    "panel": {"heat": "已更换烧蚀的空开并紧固接线", "rcd": "已更换漏电保护器，试跳正常",
              "cover": "已修复箱门并上锁", "": "已整改，配电箱恢复正常"},
    "classroom": {"five_off": "已通知班主任，当晚已关闭", "hanging": "已重新紧固螺丝并加装保险绳",
                  "doors_windows": "已更换门锁/玻璃", "": "已整改完毕"},
    "exit": {"unblocked": "杂物已清理，出口畅通", "signs_lights": "已更换应急灯电池和灯管",
             "fire_doors": "已移除顶门物，闭门器已修复", "": "已整改完毕"},
    "canteen_gas": {"hoses": "已更换为金属波纹管", "alarm": "报警器已维修，联动测试正常",
                    "valves_closed": "已关闭阀门，对当班厨师进行提醒教育", "": "已整改，燃气设施正常"},
    "dorm": {"appliances": "违规电器已没收，已通知班主任和家长", "power_strips": "已拆除串接插线板和私拉电线",
             "": "已整改完毕"},
    "gate": {"fence": "已焊接修复围栏并补装刺网", "cctv": "已更换摄像头，画面恢复",
             "": "已整改，门卫做好记录"},
}
# Quick fixes are done within hours (小修不隔夜); escalation means funding or another department.
QUICK = {"placement", "clear", "clearance", "five_off", "exit_route", "unblocked", "valves_closed",
         "visitor_log", "gate_locked", "fire_doors", "labels"}
ESCALATE = {
    ("gate", "fence"): "围栏整体老化，需更换约30米，已报区教育局申请专项资金",
    ("panel", "heat"): "该回路线路老化，需整体改造，已报后勤处立项",
    ("panel", "rcd"): "配电箱型号已停产，需整体更换，已报后勤处采购",
    ("extinguisher", "service_date"): "本批次灭火器集中到期，已报上级统一采购更换",
    ("hydrant", "valve"): "需消防维保单位停水维修，已报维保单位和教育局",
    ("gate", "cctv"): "监控主机老化，升级改造已纳入下学期预算申报",
}
DISMISS_NOTES = ["经核实为临时放置，已当场移走，不构成隐患", "复核时设备正常，系误报",
                 "与已处理的问题重复，不再单独跟踪"]
VERIFY_NOTES = ["复查合格，同意销号", "现场复核已整改到位", "验收通过"]
REJECT_NOTE = "复查未通过，问题仍然存在，请重新整改"
# Control measures (管控措施) the officer records when assigning a major hazard, until it is fixed.
MEASURES = {
    "extinguisher": "已在旁边临时增配一具合格灭火器，并张贴提示",
    "hydrant": "已设置警示标识，在消火栓旁临时增配两具灭火器",
    "panel": "已断开该回路电源，设置警示标识并临时隔离",
    "classroom": "已设置警示标识并临时隔离，下方座位已移开",
    "exit": "已安排专人值守，疏散通道保持畅通",
    "canteen_gas": "已关闭相关燃气阀门，暂停使用该灶具",
    "dorm": "违规电器已当场收缴，已通知班主任加强查寝",
    "gate": "已设置警示标识并临时隔离，夜间增加巡逻频次",
}
DEFAULT_MEASURES = "已设置警示标识并临时隔离"
EXTENSION_NOTES = ["配件需厂家订货，预计下周到货，申请延期", "需等待消防维保单位上门维修，申请延期",
                   "更换部件需停电施工，只能安排在周末，申请延期"]
FUNDING_EXTENSION_NOTE = "已上报等待专项资金和采购，按采购周期申请延期"
APPROVE_NOTES = ["同意延期，请按新期限完成", "情况属实，同意延期，期间做好临时管控"]
REFUSE_NOTE = "不同意延期，请先用库存配件临时修复，按原期限整改"
OFFICER_FIX_NOTE = "巡查时已现场督促整改到位"

# What each hazard_flow action makes of the status; the others leave it as it is.
TO_STATUS = {"assign": "assigned", "dismiss": "dismissed", "rectify": "rectified", "verify": "verified",
             "reject": "assigned"}
# Notifications older than this that need nothing more from anyone are left out (read and cleared).
NOTICE_DAYS = 7

# Ad-hoc reports (随手拍): (age as a share of the window, at most this many days, area, location, category,
# finding, story, reporter). The open ones are timed from now, so every demo has one hazard overdue,
# one waiting for an extension decision and one well within its deadline.
ADHOC = [
    (0.92, None, None, "田径场东侧3号篮球架", "facilities", "篮球架底座螺丝松动，架子晃动明显", "verified", "guard"),
    (0.80, None, None, "北门内自行车棚", "building", "车棚顶部彩钢板被风吹松，有坠落风险", "escalated", "guard3"),
    (0.70, None, "食堂 1F", "食堂后门外排水沟", "food", "后门排水沟井盖缺失，夜间容易踩空", "verified", "guard2"),
    (0.50, None, None, "图书馆二楼阅览室", "facilities", "靠窗书架看起来向外倾斜", "dismissed", "officer"),
    (0.40, 6, "实验楼 2F", "实验楼2楼化学实验室(一)通风橱", "facilities", "通风橱排风机不转，实验时异味明显",
     "overdue", "guard"),
    (0.15, None, "实验楼 3F", "实验楼3楼东侧走廊", "building", "走廊天花板渗水，地面湿滑", "rectified", "guard"),
    (0.10, 3, "教学楼B 4F", "教学楼B楼顶天台入口", "security", "天台门锁损坏，有学生上天台", "extension", "guard"),
    (0.05, 1, "行政楼 1F", "行政楼一楼大厅自动门", "facilities", "自动门感应失灵，关门时夹人", "assigned", "guard3"),
    (0.03, None, None, "体育馆看台第三排", "facilities", "看台栏杆一处焊点开裂", "reported", "guard2"),
    (0.01, None, "校门/周界", "南大门外上下学接送区", "security", "减速带损坏，螺钉外露", "reported", "guard3"),
]
ADHOC_NOTES = {
    "verified": ["已紧固并加装防松垫片", "已补装铸铁井盖"],
    "escalated": "车棚整体锈蚀，需整体翻新，已报区教育局申请专项维修资金",
    "escalated_measures": "已设置警示标识并临时隔离，车棚暂停使用，自行车临时停放在体育馆西侧",
    "dismissed": "现场核实书架已与墙体固定，倾斜为视觉误差，不构成隐患",
    "overdue_measures": "已停用该通风橱，暂停涉及挥发性试剂的实验",
    "rectified": "已修补屋面防水，走廊已设置防滑提示",
    "extension_measures": "已临时加装挂锁，并张贴“禁止进入”标识",
    "extension": "原门锁型号停产，需定制防盗门锁，厂家到货约需10天，申请延期",
}

# Major defects planted at shares of the window, so every demo shows a few 重大隐患.
PLANTED = [(0.15, "exit", "unblocked"), (0.45, "classroom", "hanging"), (0.8, "gate", "fence")]


@dataclass
class DemoPoint:
    id: int
    code: str
    type_key: str
    cadence: str
    per_period: int
    building: str
    area_id: int
    location: str
    items: list
    tags: frozenset = frozenset()
    retired_at: datetime | None = None


@dataclass
class Slot:
    at: datetime  # UTC, naive
    point: DemoPoint
    user: str
    round_no: int = 0


@dataclass
class Step:
    """One hazard_flow action in a hazard's life, with what the user gave hazard_flow.perform."""

    at: datetime
    action: str
    actor: int
    note: str = ""
    assignee: int | None = None  # assign
    deadline: date | None = None  # assign; reject (a new one, or None); request_extension (the date asked for)
    severity: str = ""  # assign, when the officer regrades it
    measures: str = ""  # assign
    photos: list = field(default_factory=list)  # rectify: the after-photos


@dataclass
class DemoHazard:
    key: tuple | None
    first_seen: datetime
    row: dict
    plan: list[Step] = field(default_factory=list)  # in time order, strictly
    fixed_at: datetime | None = None
    closed_at: datetime | None = None
    seen: list = field(default_factory=list)  # (at, actor, note, check_id)
    id: int = 0

    def condition_at(self, moment: datetime) -> str:
        """reported, assigned (being fixed, under control measures) or escalated, as guards see it."""
        status, escalated = self.state_at(moment)
        if escalated:
            return "escalated"
        return "reported" if status == "reported" else "assigned"

    def status_at(self, moment: datetime) -> str:
        return self.state_at(moment)[0]

    def state_at(self, moment: datetime) -> tuple[str, bool]:
        status, escalated = "reported", False
        for step in self.plan:
            if step.at > moment:
                break
            status = TO_STATUS.get(step.action, status)
            escalated = step.action == "escalate" or (escalated and step.action != "deescalate")
        return status, escalated


class _Clock:
    """Campus-local calendar arithmetic for one demo run."""

    def __init__(self, tz: str, now: datetime, days: int):
        self.zone = ZoneInfo(tz)
        self.now = now.astimezone(timezone.utc).replace(tzinfo=None)
        self.today = now.astimezone(self.zone).date()
        self.days = [self.today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        self.start = self.utc(self.days[0], 0, 0) if days else self.now

    def utc(self, day: date, hour: int, minute: int) -> datetime:
        local = datetime.combine(day, time(hour, minute), tzinfo=self.zone)
        return local.astimezone(timezone.utc).replace(tzinfo=None)

    def local(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=timezone.utc).astimezone(self.zone)

    def offset_minutes(self, moment: datetime) -> int:
        return int(self.local(moment).utcoffset().total_seconds() // 60)

    @staticmethod
    def school_day(day: date) -> bool:
        return day.weekday() < 5 and (day.month, day.day) not in HOLIDAYS

    def working_hours(self, moment: datetime, rng: random.Random) -> datetime:
        """The same moment if office staff are at work then (school days 07:30-18:30), else the next working morning."""
        local = self.local(moment)
        if self.school_day(local.date()) and time(7, 30) <= local.time() <= time(18, 30):
            return moment
        day = local.date() + timedelta(days=1 if local.time() > time(7, 30) else 0)
        while not self.school_day(day):
            day += timedelta(days=1)
        return self.utc(day, 8, 0) + timedelta(minutes=rng.randint(0, 90))


def build_demo(password: str, days: int = 90, seed: int = 2026, *, now: datetime | None = None) -> dict:
    """Fill an empty database with a demo school and `days` days of history up to now; same seed, same school."""
    if days < 0:
        raise ValueError("days must be 0 or more")
    if db.session.scalar(select(func.count()).select_from(Campus)):
        raise RuntimeError("A campus exists already; the demo goes into an empty database.")
    ensure_point_types()
    rng = random.Random(seed)
    clock = _Clock(TIMEZONE, now or datetime.now(timezone.utc), days)
    try:
        campus = Campus(name=CAMPUS_NAME, timezone=TIMEZONE)
        db.session.add(campus)
        db.session.flush()
        users = _add_users(campus, password, clock)
        points, areas = _add_points(campus, clock)
        days_for = {"general": campus.deadline_days_general, "major": campus.deadline_days_major}
        history = _History(clock, rng, users, points, days_for)
        history.run(_schedule(points, clock, rng))
        history.add_adhoc(campus.id, areas)
        history.attach_photos(_demo_images(rng))
        history.write(campus.id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return {
        "campus": CAMPUS_NAME,
        "points": sum(1 for p in points if p.retired_at is None),
        "checks": len(history.checks),
        "hazards": len(history.hazards),
        "users": [username for username, _role, _name in USERS],
    }


def _add_users(campus: Campus, password: str, clock: _Clock) -> dict[str, User]:
    # One hash for all: they share the password anyway, and scrypt is slow on purpose.
    password_hash = generate_password_hash(password)
    users = {}
    for username, role, name in USERS:
        users[username] = User(username=username, role=role, name=name, campus_id=campus.id, locale="zh",
                               password_hash=password_hash, created_at=clock.start - timedelta(days=30))
    db.session.add_all(users.values())
    db.session.flush()
    return users


def _layout() -> list[dict]:
    """The school's areas (one per building floor) and the points in each, in walking order."""
    areas = []
    responsible = iter(["陈建国", "刘志强", "黄晓梅", "吴海涛", "杨秀英", "徐卫东", "马俊", "朱红霞", "胡立平",
                        "郭明", "何静", "高志远", "林晓燕", "罗斌", "梁淑芬", "宋国华", "郑丽", "谢永刚"] * 4)

    def area(building, code, floor, zone, points):
        name = f"{building} {floor}F" if floor else building
        areas.append({"name": name, "building": building, "floor": f"{floor}F" if floor else "", "zone": zone,
                      "responsible": next(responsible), "code": code, "points": points})

    def floor_points(code, building, floor, extras, exits=("东侧疏散楼梯", "西侧疏散楼梯")):
        where = f"{building} {floor}F"
        points = list(extras)
        points += [("extinguisher", "东侧楼梯口灭火器箱", f"{where} 东侧楼梯口", ()),
                   ("extinguisher", "西侧楼梯口灭火器箱", f"{where} 西侧楼梯口", ()),
                   ("hydrant", "走廊消火栓", f"{where} 走廊中部", ())]
        if floor in (1, 3) or code in ("A", "B", "C"):
            points.append(("panel", "楼层配电箱", f"{where} 楼梯间", ()))
        points += [("exit", name, f"{where} {name}", ()) for name in exits]
        return points

    for building, code, grade in (("教学楼A", "A", "高一"), ("教学楼B", "B", "高二"), ("教学楼C", "C", "高三")):
        for floor in range(1, 5):
            classes = [("classroom", f"{grade}({(floor - 1) * 4 + n})班", f"{building} {floor}F {floor}0{n}室", ())
                       for n in range(1, 5)]
            if code == "C" and floor == 4:
                classes.append(("classroom", "高三(17)班", f"{building} {floor}F 405室", ("retired",)))
            area(building, code, floor, f"{grade}年级", floor_points(code, building, floor, classes))

    labs = {1: ["物理实验室(一)", "物理实验室(二)"], 2: ["化学实验室(一)", "化学实验室(二)"],
            3: ["生物实验室", "通用技术教室"], 4: ["计算机教室", "美术教室"]}
    for floor, rooms in labs.items():
        classes = [("classroom", room, f"实验楼 {floor}F {floor}0{n}室", ()) for n, room in enumerate(rooms, 1)]
        area("实验楼", "SY", floor, "实验教学", floor_points("SY", "实验楼", floor, classes, exits=("主楼梯",)))

    for floor in range(1, 4):
        area("行政楼", "XZ", floor, "行政办公",
             floor_points("XZ", "行政楼", floor, [], exits=("主楼梯",)))

    for building, code in (("男生宿舍楼", "SS1"), ("女生宿舍楼", "SS2")):
        for floor in range(1, 6):
            rooms = [("dorm", f"{floor}01-{floor}10宿舍", f"{building} {floor}F 东区", ()),
                     ("dorm", f"{floor}11-{floor}20宿舍", f"{building} {floor}F 西区", ())]
            area(building, code, floor, "学生住宿",
                 floor_points(code, building, floor, rooms, exits=("中间楼梯",)))

    area("食堂", "ST", 1, "后厨与一楼餐厅", [
        ("canteen_gas", "中餐灶台区", "食堂 1F 后厨中餐间", ("piped",)),
        ("canteen_gas", "面点间", "食堂 1F 后厨面点间", ("piped",)),
        ("canteen_gas", "液化气瓶间", "食堂 1F 后厨北侧气瓶间", ()),
        ("extinguisher", "后厨灭火器箱(一)", "食堂 1F 后厨入口", ()),
        ("extinguisher", "后厨灭火器箱(二)", "食堂 1F 后厨面点间旁", ()),
        ("extinguisher", "餐厅灭火器箱", "食堂 1F 餐厅东门", ()),
        ("hydrant", "餐厅消火栓", "食堂 1F 餐厅西墙", ()),
        ("panel", "后厨配电箱", "食堂 1F 后厨配电间", ()),
        ("exit", "餐厅东门", "食堂 1F 东门", ()),
        ("exit", "后厨北门", "食堂 1F 后厨北门", ()),
    ])
    area("食堂", "ST", 2, "二楼餐厅", [
        ("extinguisher", "二楼餐厅灭火器箱(一)", "食堂 2F 楼梯口", ()),
        ("extinguisher", "二楼餐厅灭火器箱(二)", "食堂 2F 西侧", ()),
        ("hydrant", "二楼餐厅消火栓", "食堂 2F 走道", ()),
        ("exit", "二楼疏散楼梯", "食堂 2F 东侧楼梯", ()),
    ])
    area("体育馆", "TY", 1, "室内运动场", [
        ("extinguisher", f"场馆灭火器箱({n})", f"体育馆 1F {side}", ())
        for n, side in (("一", "东门"), ("二", "西门"), ("三", "器材室"), ("四", "看台下"))
    ] + [
        ("hydrant", "东侧消火栓", "体育馆 1F 东墙", ()),
        ("hydrant", "西侧消火栓", "体育馆 1F 西墙", ()),
        ("panel", "场馆配电箱", "体育馆 1F 器材室旁", ()),
        ("exit", "东门安全出口", "体育馆 1F 东门", ()),
        ("exit", "西门安全出口", "体育馆 1F 西门", ()),
        ("exit", "看台疏散通道", "体育馆 看台北侧", ()),
    ])
    area("后勤区", "HQ", 1, "配电房、水泵房", [
        ("panel", "总配电房低压柜", "后勤区 总配电房", ()),
        ("panel", "水泵房配电箱", "后勤区 消防水泵房", ()),
        ("panel", "旧锅炉房配电箱", "后勤区 旧锅炉房", ("retired",)),
        ("extinguisher", "总配电房灭火器", "后勤区 总配电房门口", ()),
        ("hydrant", "水泵房消火栓", "后勤区 消防水泵房", ()),
    ])
    area("校门/周界", "ZJ", None, "南大门、北门及围墙", [
        ("gate", "南大门门卫室", "南大门", ()),
        ("gate", "北门（后勤通道）", "北门", ()),
        ("gate", "东侧围墙", "东侧围墙沿线", ("perimeter",)),
        ("gate", "西侧围墙", "西侧围墙沿线", ("perimeter",)),
    ])
    return areas


def _add_points(campus: Campus, clock: _Clock) -> tuple[list[DemoPoint], dict[str, int]]:
    types = {t.key: t for t in db.session.scalars(select(PointType))}
    items = {key: [(i.id, i.key, i.position, i.category, i.severity, i.photo_required) for i in t.active_items]
             for key, t in types.items()}
    layout = _layout()
    area_rows = [Area(campus_id=campus.id, name=a["name"], building=a["building"], floor=a["floor"],
                      zone=a["zone"], responsible=a["responsible"]) for a in layout]
    db.session.add_all(area_rows)
    db.session.flush()
    span = clock.now - clock.start
    rows, specs = [], []
    for spec, area_row in zip(layout, area_rows):
        counters: dict[str, int] = {}
        for type_key, name, location, tags in spec["points"]:
            point_type = types[type_key]
            counters[type_key] = counters.get(type_key, 0) + 1
            floor = f"{spec['floor']}-" if spec["floor"] else ""
            code = f"{spec['code']}-{floor}{TYPE_CODES[type_key]}-{counters[type_key]:02d}"
            retired_at = None
            if "retired" in tags:  # one class merged mid-window, one old boiler room shut before it
                retired_at = clock.start + span / 2 if type_key == "classroom" else clock.start - timedelta(days=10)
            rows.append(Point(campus_id=campus.id, area_id=area_row.id, point_type_id=point_type.id, code=code,
                              name=name, location=location, cadence=point_type.cadence,
                              per_period=point_type.per_period, active=retired_at is None, retired_at=retired_at))
            specs.append((type_key, spec["building"], frozenset(tags), retired_at))
    db.session.add_all(rows)
    db.session.flush()
    points = [DemoPoint(id=row.id, code=row.code, type_key=type_key, cadence=row.cadence,
                        per_period=row.per_period, building=building, area_id=row.area_id,
                        location=row.location, items=items[type_key], tags=tags, retired_at=retired_at)
              for row, (type_key, building, tags, retired_at) in zip(rows, specs)]
    return points, {a["name"]: row.id for a, row in zip(layout, area_rows)}


def _schedule(points: list[DemoPoint], clock: _Clock, rng: random.Random) -> list[Slot]:
    """When each point was checked and by whom: daily rounds, weekly sweeps, the monthly full check."""
    by_cadence: dict[str, dict[str, dict[str, list[DemoPoint]]]] = {}
    for point in points:  # cadence -> type -> building -> points, in walking order
        (by_cadence.setdefault(point.cadence, {}).setdefault(point.type_key, {})
         .setdefault(point.building, []).append(point))
    slots: list[Slot] = []

    def walk(start: datetime, groups: list[list[DemoPoint]], user: str, round_no: int = 0) -> None:
        """One person's round through the groups (a building each), with the gaps of real life."""
        moment = start
        for group in groups:
            if rng.random() < 0.02:  # this part of the round was missed (sick leave, a meeting)
                continue
            stop = len(group) if rng.random() > 0.05 else rng.randint(len(group) // 2, len(group))
            for point in group[:stop]:
                moment += timedelta(seconds=rng.randint(*GAPS.get(point.type_key, (60, 180))))
                if rng.random() < 0.035:
                    continue
                if point.retired_at is not None and moment >= point.retired_at:
                    continue
                if clock.start <= moment < clock.now:
                    slots.append(Slot(moment, point, user, round_no))
            moment += timedelta(seconds=rng.randint(120, 400))  # to the next building

    def started(day: date, hour: int, minute: int, spread: int = 20) -> datetime:
        return clock.utc(day, hour, minute) + timedelta(seconds=rng.randint(0, spread * 60))

    for day in clock.days:
        for type_key, buildings in by_cadence.get("daily", {}).items():
            if type_key != "gate" and not clock.school_day(day):
                continue
            rounds = DAILY_ROUNDS.get(type_key, DEFAULT_ROUNDS)
            per_period = max(p.per_period for group in buildings.values() for p in group)
            for n in range(per_period):
                routes: dict[str, list[list[DemoPoint]]] = {}
                for building, group in buildings.items():
                    if type_key == "gate":
                        user = "guard3" if day.weekday() < 5 or day.day % 2 else "guard"
                    else:
                        user = INDOOR_GUARD.get(building, "guard2")
                        if rng.random() < 0.15:  # they cover for each other
                            user = "guard2" if user == "guard" else "guard"
                    routes.setdefault(user, []).append([p for p in group if p.per_period > n])
                for user, groups in routes.items():
                    walk(started(day, *rounds[n % len(rounds)]), groups, user, round_no=n)

    weekly = [group for buildings in by_cadence.get("weekly", {}).values() for group in buildings.values()]
    mondays = sorted({day - timedelta(days=day.weekday()) for day in clock.days})
    for monday in mondays if weekly else []:
        days = [monday + timedelta(days=n) for n in (2, 3, 4, 1, 0) if clock.school_day(monday + timedelta(days=n))]
        if days:
            day = days[0] if len(days) == 1 or rng.random() < 0.8 else days[1]
            walk(started(day, 14, 30), weekly, "guard2")

    monthly = by_cadence.get("monthly", {})
    for year, month in sorted({(day.year, day.month) for day in clock.days}):
        school_days = [d for d in (date(year, month, 1) + timedelta(days=n) for n in range(31))
                       if d.month == month and clock.school_day(d)]
        # 月总查: the officer goes through every electrical panel, the guards through a building each day.
        if "panel" in monthly:
            walk(started(school_days[rng.randint(2, 6)], 9, 30), list(monthly["panel"].values()), "officer")
        buildings: dict[str, list[DemoPoint]] = {}
        for type_key, groups in monthly.items():
            if type_key != "panel":
                for building, group in groups.items():
                    buildings.setdefault(building, []).extend(group)
        for building, group in buildings.items():
            walk(started(school_days[rng.randint(1, 8)], 14, 0, spread=60),
                 [sorted(group, key=lambda p: p.code)], INDOOR_GUARD.get(building, "guard2"))
    slots.sort(key=lambda s: (s.at, s.point.code))
    return slots


class _History:
    """Checks, their results, and the hazards the failed items raise, simulated in time order."""

    def __init__(self, clock: _Clock, rng: random.Random, users: dict[str, User], points: list[DemoPoint],
                 deadline_days: dict[str, int]):
        self.clock, self.rng = clock, rng
        self.users = {name: user.id for name, user in users.items()}
        self.names = {user.id: user.name for user in users.values()}
        self.roles = {user.id: user.role for user in users.values()}
        self.officers = sorted(user.id for user in users.values() if user.role == "officer")
        self.deadline_days = deadline_days
        self.points = points
        self.checks: list[dict] = []
        self.results: list[dict] = []
        self.hazards: list[DemoHazard] = []
        self.open: dict[tuple, DemoHazard] = {}
        self.fails: list[tuple] = []  # (check row, item key, hazard, photo required)
        self.photos: list[tuple] = []  # (at, user, check_id, item_key, hazard, kind, image); after-photos: Step
        self.notices: list[tuple] = []  # (at, user, hazard, kind, note)
        self.planted = self._plant()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _plant(self) -> dict[tuple, datetime]:
        planted = {}
        span = self.clock.now - self.clock.start
        for share, type_key, item_key in PLANTED:
            candidates = [p for p in self.points if p.type_key == type_key and p.retired_at is None]
            if candidates:
                point = self.rng.choice(candidates)
                planted[(point.id, item_key)] = self.clock.now - span * share
        return planted

    def run(self, slots: list[Slot]) -> None:
        next_id = (db.session.scalar(select(func.max(Check.id))) or 0) + 1
        for number, slot in enumerate(slots):
            self._check(next_id + number, slot)

    def _check(self, check_id: int, slot: Slot) -> None:
        rng, point, at = self.rng, slot.point, slot.at
        delay = rng.choice([rng.randint(2, 40)] * 17 + [rng.randint(60, 900)] * 2 + [rng.randint(1800, 5400)])
        offset = self.clock.offset_minutes(at)
        local = at + timedelta(minutes=offset)
        observed_raw = f"{local:%Y-%m-%dT%H:%M:%S}+{offset // 60:02d}:{offset % 60:02d}"
        check = {"id": check_id, "client_uuid": self._uuid(), "point_id": point.id,
                 "user_id": self.users[slot.user], "observed_at": at, "observed_offset": offset,
                 "received_at": min(at + timedelta(seconds=delay), self.clock.now), "source": "form"}
        answers = []
        for item_id, key, position, category, severity, photo in point.items:
            result, note = self._answer(point, key, slot)
            answers.append([key, result, note])
            self.results.append({"check_id": check_id, "item_id": item_id, "item_key": key,
                                 "position": position, "result": result, "note": note})
            if result == "fail":
                hazard = self._record_fail(check, point, (item_id, key, category, severity), note, slot.user)
                self.fails.append((check, key, hazard, photo))
        canonical = {"point": point.code, "observed_at": observed_raw, "results": sorted(answers)}
        check["content_hash"] = hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()
        self.checks.append(check)

    def _answer(self, point: DemoPoint, key: str, slot: Slot) -> tuple[str, str]:
        rng, at = self.rng, slot.at
        if point.type_key == "gate" and (
                ("perimeter" in point.tags and key in ("visitor_log", "gate_locked"))
                or (key == "gate_locked" and slot.round_no < 2)):  # the gates are open by day
            return "na", ""
        if point.type_key == "canteen_gas" and key == "cylinders" and "piped" in point.tags:
            return "na", ""
        if rng.random() < 0.004:
            return "na", ""
        hazard = self.open.get((point.id, key))
        if hazard is not None and hazard.closed_at is not None and hazard.closed_at <= at:
            del self.open[(point.id, key)]
            hazard = None
        if hazard is not None and (hazard.fixed_at is None or at < hazard.fixed_at):
            if rng.random() < STILL_FAILING[hazard.condition_at(at)]:
                return "fail", hazard.row["description"] + ("，仍未整改" if rng.random() < 0.4 else "")
            return "pass", ""
        weight, notes = FAILS.get((point.type_key, key), (1.0, ["不符合要求"]))
        planted = self.planted.get((point.id, key))
        if planted is not None and planted <= at:
            del self.planted[(point.id, key)]
            return "fail", rng.choice(notes)
        if point.retired_at is None and rng.random() < NEW_DEFECT_RATE * weight:
            return "fail", rng.choice(notes)
        return "pass", ""

    def _record_fail(self, check, point, item, note, user) -> DemoHazard:
        """The rule of recording.py: an open hazard for the point and item is seen again, else a new one."""
        item_id, key, category, severity = item
        at = check["observed_at"]
        hazard = self.open.get((point.id, key))
        if hazard is not None:
            hazard.seen.append((at, self.users[user], note, check["id"]))
            hazard.row["times_seen"] += 1
            hazard.row["last_seen_at"] = max(hazard.row["last_seen_at"], at)
            return hazard
        hazard = DemoHazard(key=(point.id, key), first_seen=at, row={
            "campus_id": None, "point_id": point.id, "area_id": point.area_id, "location": point.location,
            "item_id": item_id, "item_key": key, "category": category, "severity": severity,
            "description": note, "first_seen_at": at, "last_seen_at": at, "times_seen": 1,
            "source_check_id": check["id"], "reported_by_id": self.users[user], "client_uuid": None,
            "content_hash": None,
        })
        self._plan(hazard, point.type_key, key, severity)
        self.hazards.append(hazard)
        self.open[(point.id, key)] = hazard
        return hazard

    def _later(self, at: datetime, low: float, high: float) -> datetime:
        """Some hours after `at`, moved on to office hours."""
        return self.clock.working_hours(at + timedelta(hours=self.rng.uniform(low, high)), self.rng)

    def _deadline(self, at: datetime, severity: str, quick: bool = False) -> date:
        """The campus default days for the severity from the local day of `at`; now and then a date of one's own."""
        days = self.deadline_days[severity]
        if self.rng.random() < 0.12:
            days = 1 if quick else self.rng.choice((2, 5, 10, 14))
        return self.clock.local(at).date() + timedelta(days=days)

    def _plan(self, hazard: DemoHazard, type_key: str, key: str, severity: str) -> None:
        """The hazard's life after it is reported, as hazard_flow allows it: assigned with a deadline, perhaps
        passed on, escalated or given more time, fixed (now and then rejected and fixed again) and verified by
        someone else; or dismissed."""
        rng, clock, users = self.rng, self.clock, self.users
        officer = users["officer"]
        major, quick = severity == "major", key in QUICK
        plan = hazard.plan
        if not major and rng.random() < 0.06:
            at = self._later(hazard.first_seen, 1, 20)
            plan.append(Step(at, "dismiss", officer, rng.choice(DISMISS_NOTES)))
            hazard.fixed_at = hazard.closed_at = at
            return
        assigned = at = self._later(hazard.first_seen, 0.2, 2) if major else self._later(hazard.first_seen, 1, 50)
        reporter = hazard.row["reported_by_id"]
        repairer = users["repairer2" if hazard.row["category"] == "electrical" else "repairer"]
        # 谁发现谁处理: a guard clears a blocked exit or shuts a valve themselves.
        worker = reporter if quick and self.roles[reporter] == "guard" and rng.random() < 0.3 else repairer
        deadline = self._deadline(at, severity, quick)
        measures = MEASURES.get(type_key, DEFAULT_MEASURES) if major else ""
        note = f"指派给{self.names[worker]}，整改期限{deadline.month}月{deadline.day}日"
        plan.append(Step(at, "assign", officer, note + (f"；{measures}" if measures else ""), assignee=worker,
                         deadline=deadline, measures=measures))
        if worker == repairer and not major and rng.random() < 0.05:  # passed on to the other repairer
            worker = users["repairer" if repairer == users["repairer2"] else "repairer2"]
            at = self._later(at, 2, 30)
            if deadline < clock.local(at).date():  # too late to keep: the default from today
                deadline = clock.local(at).date() + timedelta(days=self.deadline_days[severity])
            plan.append(Step(at, "assign", officer,
                             f"转交{self.names[worker]}处理，整改期限{deadline.month}月{deadline.day}日",
                             assignee=worker, deadline=deadline))
        escalation = ESCALATE.get((type_key, key))
        if escalation and rng.random() < 0.5:  # funding or another department: escalated, then more time
            at = clock.working_hours(at + timedelta(days=rng.uniform(1, 4)), rng)
            plan.append(Step(at, "escalate", officer, escalation))
            fix = timedelta(days=rng.uniform(12, 40))
            at = self._later(at, 4, 48)
            until = max(deadline, clock.local(at).date()) + timedelta(days=rng.randint(20, 40))
            plan.append(Step(at, "request_extension", worker, FUNDING_EXTENSION_NOTE, deadline=until))
            at = self._later(at, 1, 30)
            plan.append(Step(at, "approve_extension", officer, rng.choice(APPROVE_NOTES)))
            deadline = until
        elif rng.random() < 0.08:  # waiting for parts: they ask for more time, and some still run late (逾期)
            fix = timedelta(days=rng.uniform(8, 30))
            ask = clock.working_hours(max(at + timedelta(hours=2), clock.utc(deadline - timedelta(days=1), 9, 0)),
                                      rng)
            if ask < assigned + fix:
                at = ask
                until = max(deadline, clock.local(at).date()) + timedelta(days=rng.randint(5, 14))
                plan.append(Step(at, "request_extension", worker, rng.choice(EXTENSION_NOTES), deadline=until))
                at = self._later(at, 1, 30)
                if rng.random() < 0.75:
                    plan.append(Step(at, "approve_extension", officer, rng.choice(APPROVE_NOTES)))
                    deadline = until
                else:
                    plan.append(Step(at, "refuse_extension", officer, REFUSE_NOTE))
        elif quick:
            fix = timedelta(hours=rng.uniform(0.3, 6))
        elif major:
            fix = timedelta(hours=rng.uniform(2, 30))
        else:
            fix = timedelta(hours=rng.uniform(6, 180))
        notes = RECTIFY_NOTES.get(type_key, {})
        rectify_note = notes.get(key, notes.get("", "已整改完毕"))
        fixer = officer if quick and rng.random() < 0.1 else worker  # the officer saw to it on the spot
        if fixer == officer:
            rectify_note = OFFICER_FIX_NOTE
        at = clock.working_hours(max(assigned + fix, at + timedelta(minutes=rng.randint(20, 240))), rng)
        plan.append(Step(at, "rectify", fixer, rectify_note))
        if fixer != officer and rng.random() < 0.07:
            at = self._later(at, 2, 24)
            today = clock.local(at).date()
            new_deadline = today + timedelta(days=2) if deadline <= today else None
            note = REJECT_NOTE + (f"，{new_deadline.month}月{new_deadline.day}日前完成" if new_deadline else "")
            plan.append(Step(at, "reject", officer, note, deadline=new_deadline))
            at = self._later(at, 6, 48)
            plan.append(Step(at, "rectify", fixer, rectify_note))
        hazard.fixed_at = at
        at = self._later(at, 1, 12) if major else self._later(at, 2, 96)
        # Nobody verifies their own fix: the administrator does when the officer fixed it.
        verifier = users["admin"] if fixer == officer or rng.random() < 0.08 else officer
        plan.append(Step(at, "verify", verifier, rng.choice(VERIFY_NOTES)))
        hazard.closed_at = at

    def add_adhoc(self, campus_id: int, areas: dict[str, int]) -> None:
        """The 随手拍 reports: no point or item, a place in words, an id made on the phone."""
        clock, rng, users = self.clock, self.rng, self.users
        officer, repairer, electrician = users["officer"], users["repairer"], users["repairer2"]
        span = clock.now - clock.start
        verified_notes = iter(ADHOC_NOTES["verified"])
        if span <= timedelta(0):
            return
        for share, cap, area_name, location, category, description, story, reporter in ADHOC:
            age = span * share if cap is None else min(span * share, timedelta(days=cap))
            at = clock.now - age
            area_id = areas.get(area_name) if area_name else None
            canonical = [None, area_id, location, category, description]
            hazard = DemoHazard(key=None, first_seen=at, row={
                "campus_id": campus_id, "point_id": None, "area_id": area_id, "location": location,
                "item_id": None, "item_key": None, "category": category, "severity": "general",
                "description": description, "first_seen_at": at, "last_seen_at": at, "times_seen": 1,
                "source_check_id": None, "reported_by_id": self.users[reporter], "client_uuid": self._uuid(),
                "content_hash": hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest(),
            })

            def after(share: float, hours: float, start: datetime = at, age: timedelta = age) -> datetime:
                """A share of the time since the report, but no more than so many hours after it."""
                return start + min(age * share, timedelta(hours=hours))

            def assign(moment: datetime, worker: int, severity: str = "general", measures: str = "",
                       deadline: date | None = None) -> Step:
                day = clock.local(moment).date()
                deadline = deadline or day + timedelta(days=self.deadline_days[severity])
                note = ("升级为重大隐患，" if severity == "major" else "") + \
                    f"指派给{self.names[worker]}，整改期限{deadline.month}月{deadline.day}日"
                return Step(moment, "assign", officer, note + (f"；{measures}" if measures else ""),
                            assignee=worker, deadline=deadline, severity=severity if severity == "major" else "",
                            measures=measures)

            plan = hazard.plan
            if story == "dismissed":
                plan.append(Step(after(0.1, 20), "dismiss", officer, ADHOC_NOTES["dismissed"]))
            elif story == "escalated":  # regraded major, escalated for funding, more time granted
                plan.append(assign(after(0.05, 3), repairer, "major", ADHOC_NOTES["escalated_measures"]))
                plan.append(Step(after(0.15, 30), "escalate", officer, ADHOC_NOTES["escalated"]))
                ask = after(0.2, 50)
                until = max(plan[0].deadline, clock.local(ask).date()) + timedelta(days=30)
                plan.append(Step(ask, "request_extension", repairer, FUNDING_EXTENSION_NOTE, deadline=until))
                plan.append(Step(after(0.25, 60), "approve_extension", officer, APPROVE_NOTES[1]))
            elif story == "overdue":  # major, with measures in place, and past its deadline
                moment = after(0.02, 2)
                day = clock.local(moment).date()
                deadline = max(day, min(day + timedelta(days=self.deadline_days["major"]),
                                        clock.today - timedelta(days=1)))
                plan.append(assign(moment, electrician, "major", ADHOC_NOTES["overdue_measures"], deadline))
            elif story == "assigned":  # people walk through it all day: two days, not the default seven
                moment = after(0.3, 3)
                plan.append(assign(moment, repairer, deadline=clock.local(moment).date() + timedelta(days=2)))
            elif story in ("rectified", "verified", "extension"):
                plan.append(assign(after(0.05, 2), repairer, measures=ADHOC_NOTES.get(f"{story}_measures", "")))
                if story == "extension":  # asked for more time; no decision yet
                    ask = after(0.6, 60)
                    until = max(plan[0].deadline, clock.local(ask).date()) + timedelta(days=10)
                    plan.append(Step(ask, "request_extension", repairer, ADHOC_NOTES["extension"], deadline=until))
                if story in ("rectified", "verified"):
                    note = next(verified_notes) if story == "verified" else ADHOC_NOTES["rectified"]
                    plan.append(Step(after(0.3, 26), "rectify", repairer, note))
                if story == "verified":
                    plan.append(Step(after(0.5, 50), "verify", officer, rng.choice(VERIFY_NOTES)))
            self.hazards.append(hazard)

    def attach_photos(self, images: dict[str, list]) -> None:
        """Photos of failed items (always where the checklist asks for one), of ad-hoc reports, and the
        after-photos every fix needs."""
        rng = self.rng
        for check, key, hazard, required in self.fails:
            if required or rng.random() < 0.25:
                self.photos.append((check["received_at"], check["user_id"], check["id"], key, hazard, "before",
                                    rng.choice(images["before"])))
        for hazard in self.hazards:
            if hazard.key is None:
                self.photos.append((hazard.first_seen, hazard.row["reported_by_id"], None, None, hazard, "before",
                                    rng.choice(images["before"])))
            for step in hazard.plan:
                if step.action == "rectify" and step.at <= self.clock.now:
                    step.photos = rng.sample(images["after"], 2 if rng.random() < 0.2 else 1)

    def write(self, campus_id: int) -> None:
        """Insert everything in bulk, hazards and events numbered in time order."""
        now = self.clock.now
        self.hazards.sort(key=lambda h: h.first_seen)
        hazard_base = (db.session.scalar(select(func.max(Hazard.id))) or 0) + 1
        events: list[tuple] = []  # (at, order, hazard id, row)
        after_photos: list[tuple] = []  # (step, hazard, event row)
        for number, hazard in enumerate(self.hazards):
            hazard.id = hazard_base + number
            row = hazard.row
            reporter = row["reported_by_id"]
            events.append((hazard.first_seen, 0, hazard.id,
                           _event(hazard.id, hazard.first_seen, reporter, "reported", None, "reported",
                                  row["description"], row["source_check_id"])))
            self.notices += [(hazard.first_seen, officer, hazard, "reported", row["description"])
                             for officer in self.officers if officer != reporter]
            for at, actor, note, check_id in hazard.seen:
                status = hazard.status_at(at)
                events.append((at, 1, hazard.id, _event(hazard.id, at, actor, "seen_again", status, status, note,
                                                        check_id)))
            state = self._replay(hazard, events, after_photos)
            row.update(state, id=hazard.id, campus_id=campus_id,
                       open_key=(Hazard.make_open_key(*hazard.key)
                                 if hazard.key and state["status"] in OPEN_HAZARD_STATES else None))
        events.sort(key=lambda e: e[:3])
        event_base = (db.session.scalar(select(func.max(HazardEvent.id))) or 0) + 1
        for number, (*_order, event) in enumerate(events):
            event["id"] = event_base + number
        photo_rows = [_photo(image, user_id, at, hazard.id, kind, check_id, item_key)
                      for at, user_id, check_id, item_key, hazard, kind, image in self.photos if at <= now]
        photo_rows += [_photo(image, step.actor, step.at, hazard.id, "after", event_id=event["id"])
                       for step, hazard, event in after_photos for image in step.photos]
        for model, rows in ((Check, self.checks), (CheckResult, self.results),
                            (Hazard, [h.row for h in self.hazards]), (HazardEvent, [e[3] for e in events]),
                            (Photo, photo_rows), (Notification, self._notice_rows())):
            if rows:
                db.session.execute(insert(model.__table__), rows)
        if db.engine.dialect.name == "postgresql":
            # Ids given explicitly leave the sequences behind; the next ordinary insert must not collide.
            for model in (Check, Hazard, HazardEvent):
                table = model.__tablename__
                db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT MAX(id) FROM {table}))"))

    def _replay(self, hazard: DemoHazard, events: list[tuple], after_photos: list[tuple]) -> dict:
        """Apply the plan up to now the way hazard_flow.perform does: the hazard's columns at the end, each
        event's old and new values, the notifications."""
        now = self.clock.now
        state = {"status": "reported", "escalated": False, "severity": hazard.row["severity"], "assignee_id": None,
                 "deadline": None, "measures": "", "rectified_by_id": None, "rectified_at": None,
                 "verified_by_id": None, "verified_at": None, "closed_at": None, "extension_until": None,
                 "extension_reason": "", "overdue_notified_at": None}
        for step in hazard.plan:
            if step.at > now:
                break
            self._overdue(hazard, state, step.at)
            action, from_status, notify = step.action, state["status"], []
            old = (state["assignee_id"], state["deadline"], state["severity"])
            if action == "assign":
                state["severity"] = step.severity or state["severity"]
                state["deadline"] = step.deadline
                state["measures"] = step.measures or state["measures"]
                if state["assignee_id"] != step.assignee:
                    notify.append((step.assignee, "assigned"))
                state["assignee_id"] = step.assignee
            elif action == "rectify":
                state.update(rectified_by_id=step.actor, rectified_at=step.at, extension_until=None,
                             extension_reason="")
                notify += [(officer, "rectified") for officer in self.officers]
            elif action == "request_extension":
                state.update(extension_until=step.deadline, extension_reason=step.note)
                notify += [(officer, "extension_requested") for officer in self.officers]
            elif action == "approve_extension":
                state.update(deadline=state["extension_until"], extension_until=None, extension_reason="",
                             overdue_notified_at=None)
                notify.append((state["assignee_id"], "extension_approved"))
            elif action == "refuse_extension":
                state.update(extension_until=None, extension_reason="")
                notify.append((state["assignee_id"], "extension_refused"))
            elif action == "verify":
                state.update(verified_by_id=step.actor, verified_at=step.at)
                notify.append((state["rectified_by_id"], "verified"))
            elif action == "reject":
                if step.deadline:
                    state.update(deadline=step.deadline, overdue_notified_at=None)
                notify.append((state["assignee_id"], "rejected"))
            elif action in ("escalate", "deescalate"):
                state["escalated"] = action == "escalate"
            if action in ("dismiss", "verify"):
                state.update(closed_at=step.at, extension_until=None, extension_reason="")
            state["status"] = TO_STATUS.get(action, from_status)
            new = (state["assignee_id"], step.deadline if action == "request_extension" else state["deadline"],
                   state["severity"])
            event = _event(hazard.id, step.at, step.actor, action, from_status, state["status"], step.note,
                           old=old, new=new)
            events.append((step.at, 1, hazard.id, event))
            if step.photos:
                after_photos.append((step, hazard, event))
            self.notices += [(step.at, user, hazard, kind, step.note) for user, kind in notify
                             if user and user != step.actor]
        self._overdue(hazard, state, now)
        return state

    def _overdue(self, hazard: DemoHazard, state: dict, until: datetime) -> None:
        """hazard_flow.mark_newly_overdue, run at 07:00 local on the day after the deadline, if that was by `until`."""
        if state["status"] not in OPEN_HAZARD_STATES or state["deadline"] is None or state["overdue_notified_at"]:
            return
        moment = self.clock.utc(state["deadline"] + timedelta(days=1), 7, 0)
        if moment <= until:
            state["overdue_notified_at"] = moment
            targets = set(self.officers) | ({state["assignee_id"]} if state["assignee_id"] else set())
            self.notices += [(moment, user, hazard, "overdue", "") for user in sorted(targets)]

    def _notice_rows(self) -> list[dict]:
        """Notifications stay unread while they still ask something of their reader (the task is still theirs,
        the fix still awaits verification...); the others were read soon after, and old ones are gone."""
        now, today, rng = self.clock.now, self.clock.today, self.rng
        latest = {(user, hazard.id, kind): n for n, (_at, user, hazard, kind, _note) in enumerate(self.notices)}
        rows = []
        in_time_order = sorted(enumerate(self.notices), key=lambda pair: (pair[1][0], pair[0]))
        for n, (at, user, hazard, kind, note) in in_time_order:
            state = hazard.row
            if latest[(user, hazard.id, kind)] != n:
                live = False
            elif kind == "reported":
                live = state["status"] == "reported"
            elif kind in ("assigned", "rejected"):
                live = state["status"] == "assigned" and state["assignee_id"] == user
            elif kind == "rectified":
                live = state["status"] == "rectified"
            elif kind == "extension_requested":
                live = state["extension_until"] is not None
            elif kind == "overdue":
                live = state["status"] in OPEN_HAZARD_STATES and state["deadline"] < today
            else:
                live = at >= now - timedelta(days=1)
            if not live and at < now - timedelta(days=NOTICE_DAYS):
                continue
            rows.append({"user_id": user, "hazard_id": hazard.id, "kind": kind, "note": note, "created_at": at,
                         "read_at": None if live else min(now, at + timedelta(minutes=rng.randint(5, 600)))})
        return rows


def _event(hazard_id: int, at: datetime, actor: int, action: str, from_status: str | None, to_status: str,
           note: str, check_id: int | None = None, old: tuple = (None, None, None),
           new: tuple = (None, None, None)) -> dict:
    """A hazard_event row; old and new are (assignee, deadline, severity) before and after a flow action."""
    return {"id": None, "at": at, "hazard_id": hazard_id, "actor_id": actor, "action": action,
            "from_status": from_status, "to_status": to_status, "note": note, "check_id": check_id,
            "old_assignee_id": old[0], "old_deadline": old[1], "old_severity": old[2],
            "new_assignee_id": new[0], "new_deadline": new[1], "new_severity": new[2]}


def _photo(image, user_id: int, at: datetime, hazard_id: int, kind: str, check_id: int | None = None,
           item_key: str | None = None, event_id: int | None = None) -> dict:
    return {"sha256": image.sha256, "content_type": "image/jpeg", "size": image.size, "width": image.width,
            "height": image.height, "uploaded_by_id": user_id, "created_at": at, "check_id": check_id,
            "item_key": item_key, "hazard_id": hazard_id, "event_id": event_id, "kind": kind}


def _demo_images(rng: random.Random) -> dict[str, list]:
    """A handful of small stand-in photos, stored once and shared by many Photo rows."""
    images = {"before": [], "after": []}
    palette = {"before": [(186, 64, 52), (201, 128, 40), (120, 96, 80), (150, 60, 90)],
               "after": [(60, 140, 90), (50, 110, 150)]}
    for kind, colours in palette.items():
        for number, colour in enumerate(colours, 1):
            image = Image.new("RGB", (320, 240), colour)
            draw = ImageDraw.Draw(image)
            for stripe in range(0, 320, 40):
                shade = tuple(min(255, c + rng.randint(10, 40)) for c in colour)
                draw.rectangle([stripe, 150, stripe + 20, 240], fill=shade)
            if kind == "before":
                draw.polygon([(160, 30), (230, 140), (90, 140)], fill=(250, 210, 40), outline=(30, 30, 30))
                draw.rectangle([156, 65, 164, 110], fill=(30, 30, 30))
                draw.rectangle([156, 118, 164, 128], fill=(30, 30, 30))
            else:
                draw.line([(110, 90), (150, 130), (220, 50)], fill=(255, 255, 255), width=14)
            draw.text((10, 10), f"patrol demo - {kind} {number}", fill=(255, 255, 255))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=80)
            images[kind].append(photos.store(out.getvalue()))
    return images
