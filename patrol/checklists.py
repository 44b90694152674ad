"""The default point types and their checklists, from the domain reference (DOMAIN.md)."""

# (key, zh, en, category, severity if failed, photo required on fail)
DEFAULT_TYPES = [
    {
        "key": "extinguisher", "name_zh": "灭火器", "name_en": "Fire extinguisher",
        "cadence": "monthly", "per_period": 1,
        "items": [
            ("placement", "放置在指定位置，未被遮挡，箱体整洁可开启", "In its designated place, not blocked; box clean and openable", "fire", "general", False),
            ("nameplate", "铭牌清晰可辨，朝外放置", "Nameplate legible and facing out", "fire", "general", False),
            ("pin_seal", "保险销和铅封完好，未使用过", "Safety pin and seal intact, never discharged", "fire", "major", True),
            ("pressure", "压力表指针在绿区", "Pressure gauge needle in the green zone", "fire", "major", True),
            ("body", "筒体无变形、锈蚀（底部、焊缝）或泄漏", "No dents, rust (bottom, welds) or leaks", "fire", "general", True),
            ("hose", "喷管无龟裂，喷嘴畅通", "Hose not cracked, nozzle clear", "fire", "general", False),
            ("service_date", "在维修/报废期限内", "Within service and scrap date", "fire", "major", False),
            ("type_fit", "类型适合所在场所", "Type suits the location", "fire", "general", False),
        ],
    },
    {
        "key": "hydrant", "name_zh": "消火栓", "name_en": "Fire hydrant / hose reel",
        "cadence": "monthly", "per_period": 1,
        "items": [
            ("cabinet", "箱体可到达，门能打开，玻璃和锁完好，说明清晰", "Cabinet reachable, door opens, glass and lock intact, instructions legible", "fire", "general", False),
            ("valve", "阀门手轮齐全，无渗漏、锈蚀", "Valve handle present, no leak or corrosion", "fire", "major", True),
            ("hose", "水带连接并盘放好，无破损，水枪齐全", "Hose connected and racked, no tears, nozzle present", "fire", "general", True),
            ("clear", "箱内无杂物", "Nothing stored inside", "fire", "general", False),
        ],
    },
    {
        "key": "panel", "name_zh": "配电箱", "name_en": "Electrical panel",
        "cadence": "monthly", "per_period": 1,
        "items": [
            ("clearance", "前方约1米内无遮挡，无堆放杂物", "About 1 m clear in front, nothing stored", "electrical", "general", False),
            ("cover", "箱门关闭上锁，无裸露带电部位", "Cover closed and locked, no exposed live parts", "electrical", "major", True),
            ("labels", "回路标识清楚，张贴危险警示", "Circuits labelled, danger sign posted", "electrical", "general", False),
            ("heat", "无发热、焦味或进水", "No heat, burning smell or water", "electrical", "major", True),
            ("rcd", "漏电保护装置完好", "Residual-current protection present", "electrical", "major", False),
            ("wiring", "无私拉乱接电线", "No improvised wiring", "electrical", "general", True),
        ],
    },
    {
        "key": "classroom", "name_zh": "教室", "name_en": "Classroom",
        "cadence": "daily", "per_period": 1,
        "items": [
            ("doors_windows", "门窗玻璃、门锁、护栏完好", "Door and window glass, locks and railings sound", "building", "general", True),
            ("sockets", "插座开关完好，无大功率电器", "Sockets and switches intact, no high-power appliances", "electrical", "general", False),
            ("hanging", "悬挂物（投影仪、音箱、风扇）牢固", "Hanging items (projector, speakers, fans) secure", "facilities", "major", True),
            ("exit_route", "疏散通道畅通", "Exit route clear", "fire", "general", False),
            ("five_off", "放学\u201c五关\u201d：电、水、气、门、窗", "End of day: power, water, gas, doors, windows off and shut", "security", "general", False),
        ],
    },
    {
        "key": "exit", "name_zh": "安全出口", "name_en": "Emergency exit",
        "cadence": "daily", "per_period": 1,
        "items": [
            ("unblocked", "出口和楼梯畅通、未上锁", "Exits and stairs clear and unlocked", "fire", "major", True),
            ("signs_lights", "疏散指示标志和应急照明正常", "Exit signs and emergency lights working", "fire", "general", False),
            ("fire_doors", "防火门关闭，防火卷帘下无物品", "Fire doors shut, nothing under fire shutters", "fire", "general", False),
        ],
    },
    {
        "key": "canteen_gas", "name_zh": "食堂燃气", "name_en": "Canteen gas",
        "cadence": "daily", "per_period": 1,
        "items": [
            ("alarm", "燃气泄漏报警器和自动切断阀正常", "Leak alarm working, automatic shut-off valve", "food", "major", True),
            ("hoses", "使用金属波纹管，无老化、龟裂", "Metal corrugated hoses, not aged or cracked", "food", "major", True),
            ("flame_failure", "灶具有熄火保护装置", "Flame-failure protection on burners", "food", "general", False),
            ("cylinders", "气瓶在检验期内，直立放置，通风良好", "Cylinders in date, upright, ventilated", "food", "major", False),
            ("valves_closed", "用后阀门已关闭", "Valves closed after service", "food", "general", False),
        ],
    },
    {
        "key": "dorm", "name_zh": "宿舍用电", "name_en": "Dormitory electrics",
        "cadence": "weekly", "per_period": 1,
        "items": [
            ("appliances", "无热得快、电热毯、电炉等违规电器", "No immersion heaters, electric blankets or hot plates", "electrical", "major", True),
            ("power_strips", "无串接插线板或私拉乱接", "No daisy-chained power strips or improvised wiring", "electrical", "general", True),
            ("exit_kit", "疏散通道畅通，应急灯和灭火器在有效期内", "Exit route clear, emergency light and extinguisher in date", "fire", "general", False),
        ],
    },
    {
        "key": "gate", "name_zh": "门卫/周界", "name_en": "Gate and perimeter",
        "cadence": "daily", "per_period": 3,
        "items": [
            ("visitor_log", "来访登记完整", "Visitor log kept", "security", "general", False),
            ("gate_locked", "非开放时间大门已锁闭", "Gate locked outside hours", "security", "general", False),
            ("cctv", "监控设备正常", "CCTV working", "security", "general", False),
            ("fence", "周界围栏完好", "Perimeter fence intact", "security", "major", True),
        ],
    },
]
