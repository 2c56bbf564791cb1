"""A reproducible demo data set: 黔东南供电局 with three counties, nine stations,
their account managers, lines, districts and a few thousand customer archives.

Everything random comes from one `random.Random(seed)`, so the same seed gives
the same customers. Rows are written with `bulk_create` in batches; each
archive and contact then gets its first history row (set-based), so the first
edit of a seeded archive shows old → new.
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import OrgUnit, User
from core.history import insert_baseline_history
from customers.models import SENSITIVITY_FLAGS, Contact, Customer, District, Line
from customers.quality import completeness_score

DEMO_PASSWORD = "demo12345"
BATCH_SIZE = 1000

PROVINCE = ("GZ", "贵州电网有限责任公司")
PREFECTURE = ("QDN", "黔东南供电局")
PREFECTURE_ADDRESS = "贵州省黔东南苗族侗族自治州"
# (code, unit name, county name for addresses, [(station code, town), ...]);
# the first town of each county is the county seat.
COUNTIES = (
    ("LSX", "雷山县供电局", "雷山县", (("LS01", "丹江镇"), ("LS02", "西江镇"), ("LS03", "永乐镇"))),
    ("TJX", "台江县供电局", "台江县", (("TJ01", "台拱街道"), ("TJ02", "施洞镇"), ("TJ03", "革一镇"))),
    ("LPX", "黎平县供电局", "黎平县", (("LP01", "德凤街道"), ("LP02", "中潮镇"), ("LP03", "孟彦镇"))),
)
STATION_WEIGHT_SEAT = 3.0
STATION_WEIGHT_RURAL = 1.6
LINES_PER_STATION_10KV = 5
STATIONS_WITH_35KV_LINE = (0, 1, 3, 4, 6)
DISTRICTS = 300
MANAGERS_PER_STATION = 3

SURNAMES = (
    "杨杨杨吴吴吴龙龙王王李李张张刘陈潘潘石石罗欧文余唐邰姜顾万宋黄周赵徐孙胡朱高林何郭马梁谢韦蒋田邓彭曾袁"
)
GIVEN_MALE = "伟强军勇杰涛明超华平刚辉鹏建国文斌波林海东兵志成龙德祥贵荣生福云江光才顺忠金松"
GIVEN_FEMALE = "芳娟敏静丽艳霞秀英梅玲兰红燕萍琴慧婷雪丹花珍凤桂莲娥群琳洁翠"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 177 180 181 182 183 185 186 187 188 189 198 199"
)
LANDLINE_AREA = "0855"

VILLAGE_HEADS = "乌白羊平高岩新大南北长营黄青石桥龙红凤响排开格掌猫控干坝"
VILLAGE_TAILS = "东西坝寨岭江河田坡冲塘湾溪山桥堡场林屯"
STREETS = _words(
    "民族路 人民路 文化路 建设路 新华路 团结路 解放路 滨江路 "
    "环城路 中心街 步行街 迎宾大道 和平路 春晖路 鼓楼路"
)
# Feeder names come from places of the line's own county.
LINE_PLACES = {
    "LSX": _words(
        "丹江 西江 永乐 郎德 望丰 大塘 方祥 达地 桃江 报德 乌东 控拜 掌披 南猛 开觉 白岩 格头 乌尧"
    ),
    "TJX": _words(
        "台拱 施洞 革一 老屯 排羊 台盘 南宫 方召 革东 巫脚 交密 良田 反排 登鲁 红阳 九摆 展福 偏寨"
    ),
    "LPX": _words(
        "德凤 中潮 孟彦 高屯 茅贡 肇兴 龙额 地坪 水口 洪州 敖市 罗里 尚重 口江 九潮 坝寨 岩洞 永从"
    ),
}
BUSINESS_WORDS = _words(
    "银球 苗岭 雷公山 清水江 巴拉河 郎德 千户 侗乡 鼓楼 百里 云上 金山 绿源 鑫源 华兴 兴农 丰源 盛达 "
    "祥和 恒通 宏远 新城 天源 山水 福满 远航 顺达 黔韵 锦绣 古榕 苗香 稻香 杉乡 翠谷"
)
COMMERCIAL_SUFFIXES = _words(
    "商贸有限公司 酒店管理有限公司 旅游开发有限公司 餐饮有限公司 超市有限公司 物业管理有限公司 "
    "民族服饰有限公司 银饰工艺品有限公司 农家乐 客栈 超市 酒楼"
)
INDUSTRY_SUFFIXES = _words(
    "茶叶有限公司 茶业有限公司 木业有限公司 建材有限公司 水泥制品有限公司 石材有限公司 食品有限公司 "
    "酒业有限公司 竹木制品有限公司 混凝土有限公司 矿业有限公司"
)
AGRICULTURE_SUFFIXES = _words("种植农民专业合作社 养殖农民专业合作社 茶叶种植专业合作社 生态农业发展有限公司")
FLAG_NOTES = {
    "is_high_sensitivity": "曾多次拨打95598反映问题，沟通需耐心，优先电话联系。",
    "is_important": "县重点保供电企业，停电须提前一对一告知。",
    "is_key_attention": "近期反映电压偏低，待跟踪处理结果。",
    "is_special": "独居老人，停电前需电话通知到人。",
    "is_sensitive": "对电价政策较关注，避免在群内争论，单独沟通。",
}


@dataclass
class Station:
    unit: OrgUnit
    county: OrgUnit
    county_name: str
    town: str
    is_seat: bool
    short_town: str
    villages: list[str] = field(default_factory=list)
    managers: list[User] = field(default_factory=list)
    lines_10kv: list[Line] = field(default_factory=list)
    line_35kv: Line | None = None
    districts: list[District] = field(default_factory=list)


class DemoBuilder:
    def __init__(self, seed: int, customers: int):
        self.rng = random.Random(seed)
        self.customer_count = customers
        self.now = timezone.now()
        self.used_mobiles: set[str] = set()
        self.used_names: set[str] = set()
        self.district_place: dict[int, str] = {}
        self.password_hash = make_password(DEMO_PASSWORD)
        self.created_usernames: set[str] = set()

    # --- generators ---------------------------------------------------------
    def person_name(self) -> str:
        rng = self.rng
        chars = GIVEN_FEMALE if rng.random() < 0.5 else GIVEN_MALE
        given = "".join(rng.choice(chars) for _ in range(1 if rng.random() < 0.3 else 2))
        return rng.choice(SURNAMES) + given

    def unique_person_name(self) -> str:
        while True:
            name = self.person_name()
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.used_mobiles:
                self.used_mobiles.add(number)
                return number

    def landline(self) -> str:
        return f"{LANDLINE_AREA}-{self.rng.randrange(2, 9)}{self.rng.randrange(10**6):06d}"

    def village(self, taken: set[str]) -> str:
        while True:
            name = self.rng.choice(VILLAGE_HEADS) + self.rng.choice(VILLAGE_TAILS) + "村"
            if name not in taken:
                taken.add(name)
                return name

    # --- org tree and people --------------------------------------------------
    def build_org(self) -> tuple[OrgUnit, OrgUnit, list[OrgUnit], list[Station]]:
        def unit(code, name, level, parent):
            obj, _ = OrgUnit.objects.get_or_create(
                code=code, defaults={"name": name, "level": level, "parent": parent}
            )
            return obj

        province = unit(*PROVINCE, OrgUnit.Level.PROVINCE, None)
        prefecture = unit(*PREFECTURE, OrgUnit.Level.PREFECTURE, province)
        counties, stations = [], []
        for county_code, county_unit_name, county_name, towns in COUNTIES:
            county = unit(county_code, county_unit_name, OrgUnit.Level.COUNTY, prefecture)
            counties.append(county)
            for index, (station_code, town) in enumerate(towns):
                short_town = town.removesuffix("镇").removesuffix("街道")
                station = unit(station_code, f"{short_town}供电所", OrgUnit.Level.STATION, county)
                taken: set[str] = set()
                stations.append(
                    Station(
                        unit=station,
                        county=county,
                        county_name=county_name,
                        town=town,
                        is_seat=index == 0,
                        short_town=short_town,
                        villages=[self.village(taken) for _ in range(14)],
                    )
                )
        return province, prefecture, counties, stations

    def build_users(
        self, province: OrgUnit, prefecture: OrgUnit, counties: list[OrgUnit], stations: list[Station]
    ) -> dict[str, User]:
        specs: list[tuple[str, OrgUnit, str]] = [
            ("admin", province, User.Role.ADMINISTRATOR),
            ("supervisor", prefecture, User.Role.SUPERVISOR),
            ("county_supervisor", counties[0], User.Role.SUPERVISOR),
            ("manager", stations[0].unit, User.Role.ACCOUNT_MANAGER),
        ]
        station_slots = [s.unit for s in stations for _ in range(MANAGERS_PER_STATION)][1:]
        numbered = station_slots + counties
        specs += [
            (f"manager{n:02d}", unit, User.Role.ACCOUNT_MANAGER) for n, unit in enumerate(numbered, start=1)
        ]
        usernames = [spec[0] for spec in specs]
        existing = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
        new_users = []
        for username, unit, role in specs:
            real_name = "系统管理员" if role == User.Role.ADMINISTRATOR else self.unique_person_name()
            mobile = self.mobile()
            if username in existing:
                continue
            is_admin = role == User.Role.ADMINISTRATOR
            new_users.append(
                User(
                    username=username,
                    password=self.password_hash,
                    real_name=real_name,
                    mobile=mobile,
                    org_unit=unit,
                    role=role,
                    is_staff=is_admin,
                    is_superuser=is_admin,
                )
            )
        User.objects.bulk_create(new_users, batch_size=BATCH_SIZE)
        self.created_usernames = {u.username for u in new_users}
        users = {
            u.username: u for u in User.objects.filter(username__in=usernames).select_related("org_unit")
        }
        by_unit = {s.unit.pk: s for s in stations}
        for username in usernames:
            user = users[username]
            if user.role == User.Role.ACCOUNT_MANAGER and user.org_unit_id in by_unit:
                by_unit[user.org_unit_id].managers.append(user)
        all_managers = [m for s in stations for m in s.managers] or [users["admin"]]
        for station in stations:
            # Accounts that existed before with another unit leave a station short.
            station.managers = station.managers or all_managers
        return users

    # --- grid: lines and districts ----------------------------------------------
    def build_lines(self, stations: list[Station]) -> list[Line]:
        pools = {}
        for county_code, names in LINE_PLACES.items():
            pools[county_code] = list(names)
            self.rng.shuffle(pools[county_code])
        lines = []
        for index, station in enumerate(stations):
            places = pools[station.county.code]
            for n in range(1, LINES_PER_STATION_10KV + 1):
                line = Line(
                    code=f"{station.unit.code}XL{n:02d}",
                    name=f"10kV {places.pop()}线",
                    station=station.unit,
                    voltage_kv=10,
                )
                station.lines_10kv.append(line)
                lines.append(line)
            if index in STATIONS_WITH_35KV_LINE:
                station.line_35kv = Line(
                    code=f"{station.unit.code}XL35",
                    name=f"35kV {places.pop()}线",
                    station=station.unit,
                    voltage_kv=35,
                )
                lines.append(station.line_35kv)
        return Line.objects.bulk_create(lines, batch_size=BATCH_SIZE)

    def build_districts(self, stations: list[Station]) -> list[District]:
        per_station, extra = divmod(DISTRICTS, len(stations))
        districts, places = [], []
        for index, station in enumerate(stations):
            for n in range(1, per_station + (1 if index < extra else 0) + 1):
                if station.is_seat and self.rng.random() < 0.6:
                    place = self.rng.choice(STREETS)
                    name = f"{station.town}{place}{n}号公变台区"
                else:
                    place = self.rng.choice(station.villages)
                    name = f"{place}{n}号台区"
                district = District(
                    code=f"{station.unit.code}TQ{n:03d}",
                    name=name,
                    station=station.unit,
                    line=self.rng.choice(station.lines_10kv),
                    manager=self.rng.choice(station.managers),
                    capacity_kva=self.rng.choice((100, 200, 315, 400, 500, 630)),
                )
                station.districts.append(district)
                districts.append(district)
                places.append(place)
        created = District.objects.bulk_create(districts, batch_size=BATCH_SIZE)
        self.district_place = {d.pk: place for d, place in zip(created, places, strict=True)}
        return created

    # --- customers ----------------------------------------------------------------
    def pick_kind(self) -> str:
        kinds = (
            Customer.Kind.RESIDENT,
            Customer.Kind.COMMERCIAL,
            Customer.Kind.AGRICULTURE,
            Customer.Kind.LARGE_INDUSTRY,
            Customer.Kind.OTHER,
        )
        return self.rng.choices(kinds, weights=(78, 14, 4, 2, 2))[0]

    def pick_voltage(self, kind: str) -> str:
        V = Customer.Voltage
        options = {
            Customer.Kind.RESIDENT: ((V.V220, V.V380), (95, 5)),
            Customer.Kind.COMMERCIAL: ((V.V220, V.V380, V.KV10), (45, 45, 10)),
            Customer.Kind.AGRICULTURE: ((V.V220, V.V380, V.KV10), (30, 60, 10)),
            Customer.Kind.LARGE_INDUSTRY: ((V.KV10, V.KV35, V.KV110), (70, 25, 5)),
            Customer.Kind.OTHER: ((V.V220, V.V380, V.KV10), (40, 45, 15)),
        }[kind]
        return self.rng.choices(*options)[0]

    def customer_name(self, kind: str, station: Station, place: str) -> str:
        rng = self.rng
        county = station.county_name
        word = rng.choice(BUSINESS_WORDS)
        if kind == Customer.Kind.RESIDENT:
            return self.person_name()
        if kind == Customer.Kind.COMMERCIAL:
            suffix = rng.choice(COMMERCIAL_SUFFIXES)
            if suffix in ("农家乐", "客栈", "酒楼"):
                return f"{station.short_town}{rng.choice(SURNAMES)}记{suffix}"
            if suffix == "超市":
                return f"{place}{word}超市"
            return f"{county}{word}{suffix}"
        if kind == Customer.Kind.LARGE_INDUSTRY:
            return f"{county}{word}{rng.choice(INDUSTRY_SUFFIXES)}"
        if kind == Customer.Kind.AGRICULTURE:
            if rng.random() < 0.3 and place.endswith("村"):
                return f"{place}提灌站"
            return f"{county}{word}{rng.choice(AGRICULTURE_SUFFIXES)}"
        town = station.town
        return rng.choice(
            (
                f"{place}村民委员会" if place.endswith("村") else f"{town}{place}社区居民委员会",
                f"{town}中心小学",
                f"{town}卫生院",
                f"{town}人民政府",
                f"{county}移动通信基站（{place}）",
            )
        )

    def address(self, station: Station, place: str, kind: str) -> str:
        rng = self.rng
        head = f"{PREFECTURE_ADDRESS}{station.county_name}{station.town}"
        if place.endswith("村"):
            return f"{head}{place}{rng.randrange(1, 12)}组{rng.randrange(1, 80)}号"
        if kind == Customer.Kind.RESIDENT and rng.random() < 0.5:
            return (
                f"{head}{place}{rng.randrange(1, 300)}号{rng.randrange(1, 8)}栋"
                f"{rng.randrange(1, 4)}单元{rng.randrange(1, 7)}0{rng.randrange(1, 5)}"
            )
        return f"{head}{place}{rng.randrange(1, 300)}号"

    def build_customers(self, stations: list[Station], users: dict[str, User]) -> list[Customer]:
        rng = self.rng
        weights = [STATION_WEIGHT_SEAT if s.is_seat else STATION_WEIGHT_RURAL for s in stations]
        county_managers = {
            u.org_unit_id: u
            for u in users.values()
            if u.is_account_manager and u.org_unit.level == OrgUnit.Level.COUNTY
        }
        customers = []
        for seq in range(1, self.customer_count + 1):
            station = rng.choices(stations, weights=weights)[0]
            kind = self.pick_kind()
            district = rng.choice(station.districts)
            place = self.district_place[district.pk]
            is_business = kind != Customer.Kind.RESIDENT
            voltage = self.pick_voltage(kind)
            if is_business and kind in (Customer.Kind.LARGE_INDUSTRY, Customer.Kind.COMMERCIAL):
                vip = rng.choices(
                    (0, 1, 2, 3),
                    weights=(70, 18, 8, 4) if kind == Customer.Kind.LARGE_INDUSTRY else (95, 4, 1, 0),
                )[0]
            else:
                vip = 0
            manager = district.manager
            roll = rng.random()
            if roll < 0.08:
                manager = rng.choice(station.managers)
            elif roll < 0.10:
                manager = None
            if is_business and (vip or kind == Customer.Kind.LARGE_INDUSTRY) and rng.random() < 0.5:
                manager = county_managers.get(station.county.pk, manager)
            line = district.line
            if voltage in (Customer.Voltage.KV35, Customer.Voltage.KV110) and station.line_35kv:
                line = station.line_35kv
            if rng.random() < 0.03:
                district = None
                if rng.random() < 0.5:
                    line = None
            segment = Customer.Segment.RURAL if place.endswith("村") else Customer.Segment.URBAN
            staleness = rng.random()
            if staleness < 0.05:
                verified_at = None
            elif staleness < 0.20:
                verified_at = self.now - timedelta(days=rng.randrange(380, 1500))
            else:
                verified_at = self.now - timedelta(days=rng.randrange(0, 350), minutes=rng.randrange(1440))
            flags = {}
            for flag, share in (
                ("is_high_sensitivity", 0.01),
                ("is_important", 0.04 if is_business else 0.0),
                ("is_key_attention", 0.01),
                ("is_special", 0.0 if is_business else 0.008),
                ("is_sensitive", 0.008),
            ):
                flags[flag] = rng.random() < share
            notes = "；".join(FLAG_NOTES[flag] for flag, on in flags.items() if on)
            customers.append(
                Customer(
                    number=f"5226{stations.index(station) + 1:02d}{seq:06d}",
                    name=self.customer_name(kind, station, place),
                    kind=kind,
                    segment=segment,
                    voltage="" if rng.random() < 0.03 else voltage,
                    address="" if rng.random() < 0.02 else self.address(station, place, kind),
                    station=station.unit,
                    district=district,
                    line=line,
                    manager=manager,
                    vip_tier=vip,
                    wechat_bound=rng.random() < 0.4,
                    verified_at=verified_at,
                    notes=notes,
                    **flags,
                )
            )
        self.showcase(customers, users["manager"])
        return customers

    def showcase(self, customers: list[Customer], demo_manager: User) -> None:
        """The `manager` login owns at least one customer of every sensitivity
        flag, a VIP and a stale archive, however small the data set."""
        own = [c for c in customers if c.manager_id == demo_manager.pk]
        if len(own) < 8:
            others = [c for c in customers if c.manager_id != demo_manager.pk]
            pool = [c for c in others if c.station_id == demo_manager.org_unit_id] or others
            for customer in self.rng.sample(pool, min(8 - len(own), len(pool))):
                customer.manager = demo_manager
                own.append(customer)
        if not own:
            return
        for flag in SENSITIVITY_FLAGS:
            if not any(getattr(c, flag) for c in own):
                chosen = self.rng.choice(own)
                setattr(chosen, flag, True)
                chosen.notes = "；".join(filter(None, (chosen.notes, FLAG_NOTES[flag])))
        if not any(c.vip_tier for c in own):
            self.rng.choice(own).vip_tier = Customer.VipTier.VIP
        if not any(c.verified_at is None or c.verified_at < self.now - timedelta(days=365) for c in own):
            self.rng.choice(own).verified_at = self.now - timedelta(days=500)

    def contacts_for(self, customer: Customer) -> list[Contact]:
        rng = self.rng
        C = Contact
        if customer.kind == Customer.Kind.RESIDENT:
            people = [(customer.name, C.Relation.SELF)]
            if rng.random() < 0.45:
                relative = customer.name[0] + self.person_name()[1:]
                people.append((relative, C.Relation.FAMILY))
        else:
            people = [(self.person_name(), rng.choice((C.Relation.LEGAL, C.Relation.FINANCE)))]
            if rng.random() < 0.6:
                people.append((self.person_name(), C.Relation.ELECTRICIAN))
        without_primary = rng.random() < 0.04
        contacts = []
        for index, (name, relation) in enumerate(people):
            landline_only = rng.random() < (0.12 if customer.kind == Customer.Kind.RESIDENT else 0.05)
            mobile = "" if landline_only else self.mobile()
            has_landline = landline_only or (customer.kind != Customer.Kind.RESIDENT and rng.random() < 0.4)
            channel = C.Channel.PHONE
            if mobile:
                channel = rng.choices(
                    (C.Channel.PHONE, C.Channel.WECHAT, C.Channel.SMS), weights=(60, 25, 15)
                )[0]
            email = ""
            if customer.kind != Customer.Kind.RESIDENT and rng.random() < 0.2:
                email = f"qdn{customer.number[-6:]}{index}@example.com"
            contacts.append(
                Contact(
                    customer=customer,
                    name=name,
                    relation=relation,
                    mobile=mobile,
                    landline=self.landline() if has_landline else "",
                    wechat_id=f"wxid_{rng.randrange(16**10):010x}" if channel == C.Channel.WECHAT else "",
                    email=email,
                    preferred_channel=channel,
                    is_primary=index == 0 and not without_primary,
                )
            )
        return contacts


class Command(BaseCommand):
    help = (
        "Fill the database with a reproducible demo: org tree, account managers, lines, districts, customers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=5000, help="number of customers (default 5000)")
        parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any customer exists already"
        )

    def handle(self, *args, customers: int, seed: int, if_empty: bool, **options):
        if customers < 0:
            raise CommandError("--customers must not be negative")
        if Customer.all_objects.exists():
            if not if_empty:
                raise CommandError(
                    "The database already holds customers; seed a fresh database, or pass --if-empty."
                )
            self.stdout.write("Customers exist already; nothing seeded.")
            if User.objects.filter(username="manager").exists():
                self.print_logins()
            return

        builder = DemoBuilder(seed=seed, customers=customers)
        with transaction.atomic():
            province, prefecture, counties, stations = builder.build_org()
            users = builder.build_users(province, prefecture, counties, stations)
            lines = builder.build_lines(stations)
            districts = builder.build_districts(stations)
            customer_rows = builder.build_customers(stations, users)
            contact_rows = []
            for customer in customer_rows:
                contacts = builder.contacts_for(customer)
                customer.completeness = completeness_score(customer, contacts)
                contact_rows.extend(contacts)
            Customer.objects.bulk_create(customer_rows, batch_size=BATCH_SIZE)
            Contact.objects.bulk_create(contact_rows, batch_size=BATCH_SIZE)
            insert_baseline_history(Customer, Customer.history.model)
            insert_baseline_history(Contact, Contact.history.model)

        flagged = sum(1 for c in customer_rows if c.needs_one_to_one)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {2 + len(counties) + len(stations)} units, {len(builder.created_usernames)} users, "
                f"{len(lines)} lines, {len(districts)} districts, {len(customer_rows)} customers "
                f"({flagged} flagged for one-to-one contact), {len(contact_rows)} contacts (seed {seed})."
            )
        )
        existing = set(users) - builder.created_usernames
        if existing:
            self.stdout.write(
                f"Kept existing accounts with their own passwords: {', '.join(sorted(existing))}."
            )
        self.print_logins()

    def print_logins(self) -> None:
        wanted = ["admin", "supervisor", "county_supervisor", "manager", "manager01", "manager29"]
        users = {u.username: u for u in User.objects.filter(username__in=wanted).select_related("org_unit")}
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}) / 演示账号（密码 {DEMO_PASSWORD}）:")
        for username in wanted[:4]:
            user = users.get(username)
            if user:
                self.stdout.write(
                    f"  {username:<18} {user.real_name} · {user.org_unit} · {user.get_role_display()}"
                )
        self.stdout.write(f"  {'manager01 … manager29':<18} 客户经理 · 各供电所及县局")
