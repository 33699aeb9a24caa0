"""`cylinder-registry seed-demo`: a synthetic city shaped like Zhengzhou, deterministic per seed.

Real districts (codes from the national administrative division list; the functional zones such
as 郑东新区 carry the 4101 7x codes the city uses), each split into street cells and grid
sub-cells; stations inside sub-cells near the district's centre; vehicles with 1-4 cylinders, of
which a realistic share are overdue, past their 15-year service life (GB 17258) or condemned;
optionally weeks of scan events including override, monitor-mode and clone patterns, and before
them months of day counts alone (`rollup_days`: a year at city scale without a year of raw events).
Bulk rows go through Core executemany in chunks, so a million cylinders load in minutes. The day
counts and clone suspects of the seeded events are derived from them as `rebuild-rollups` does.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session
from tqdm import tqdm

from registry_service.config import RegistryConfig
from registry_service.models import (
    Cylinder,
    CylinderState,
    Outcome,
    Pump,
    Region,
    RegionLevel,
    ScanDayCount,
    ScanEvent,
    Station,
    Vehicle,
)
from registry_service.services import events, rollups
from registry_service.services.reasons import mask_of
from registry_service.services.rollups import Reckoning

CITY = ("4101", "郑州市")
# code, name, centre latitude, centre longitude, street cells
DISTRICTS: tuple[tuple[str, str, float, float, tuple[str, ...]], ...] = (
    ("410102", "中原区", 34.748, 113.613, ("林山寨街道", "建设路街道", "棉纺路街道", "秦岭路街道", "三官庙街道")),
    ("410103", "二七区", 34.724, 113.640, ("淮河路街道", "解放路街道", "铭功路街道", "一马路街道", "蜜蜂张街道")),
    ("410104", "管城回族区", 34.754, 113.677, ("西大街街道", "北下街街道", "南关街道", "城东路街道", "航海东路街道")),
    ("410105", "金水区", 34.800, 113.660, ("经八路街道", "花园路街道", "人民路街道", "杜岭街道", "丰产路街道", "东风路街道")),
    ("410106", "上街区", 34.803, 113.309, ("济源路街道", "中心路街道", "新安路街道")),
    ("410108", "惠济区", 34.867, 113.617, ("迎宾路街道", "长兴路街道", "花园口镇", "古荥镇")),
    ("410171", "郑东新区", 34.771, 113.745, ("龙子湖街道", "如意湖街道", "博学路街道", "金光路街道", "祭城路街道")),
    ("410173", "高新技术产业开发区", 34.808, 113.552, ("石佛街道", "沟赵街道", "枫杨街道")),
    ("410174", "经济技术开发区", 34.720, 113.745, ("明湖街道", "潮河街道", "京航街道")),
    ("410172", "航空港经济综合实验区", 34.527, 113.852, ("新港街道", "张庄街道", "三官庙街道(港区)")),
)
SUB_CELLS_PER_STREET = 4
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on Chinese plates
MANUFACTURERS = ("TIANHAI", "SINOMA", "JINGCHENG", "ENRIC", "BEIFANG")
SERVICE_LIFE_YEARS = 15
OVERRIDE_REASONS = ("备用气瓶检验报告已出示", "registry unreachable, paper certificate seen", "救护车 ambulance on call")


@dataclass(frozen=True)
class DemoShape:
    vehicles: int = 5000
    stations_per_district: int = 6
    event_days: int = 0
    fills_per_vehicle_per_week: float = 3.0
    overdue_share: float = 0.08
    condemned_share: float = 0.004
    # Days before the scan events that exist only as day counts, shaped like the events' own days.
    rollup_days: int = 0


@dataclass
class DemoSummary:
    regions: int = 0
    stations: int = 0
    vehicles: int = 0
    cylinders: int = 0
    overdue: int = 0
    past_life: int = 0
    condemned: int = 0
    events: int = 0
    day_counts: int = 0
    clone_suspects: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class DemoCity:
    def __init__(
        self, engine: Engine, seed: int, today: date, shape: DemoShape, progress: bool = True, reckoning: Reckoning | None = None
    ) -> None:
        self.engine = engine
        self.reckoning = reckoning or Reckoning.of(RegistryConfig())
        self.rng = random.Random(seed)
        self.today = today
        self.shape = shape
        self.progress = progress
        self.summary = DemoSummary()
        self.stations: list[dict[str, Any]] = []
        self.cylinders: list[tuple[int, str, str, bool, bool, str]] = []  # id, cyl id, uid, overdue, refused, plate

    def build(self) -> DemoSummary:
        with self.engine.connect() as connection:
            if connection.scalar(select(func.count()).select_from(Region)):
                from registry_service.errors import Conflict

                raise Conflict("the registry already has regions: seed-demo needs an empty database")
        self._regions_and_stations()
        self._vehicles_and_cylinders()
        if self.shape.event_days:
            self._events()
            self._derived()
            if self.shape.rollup_days:
                self._earlier_day_counts()
        self._fix_sequences()
        return self.summary

    # Places ------------------------------------------------------------------------------------

    def _regions_and_stations(self) -> None:
        regions: list[dict[str, Any]] = []
        next_id = iter(range(1, 10**6))
        city_id = next(next_id)
        regions.append(
            {"id": city_id, "code": CITY[0], "name": CITY[1], "level": RegionLevel.CITY, "parent_id": None, "path": CITY[0]}
        )
        sub_cells: dict[str, list[tuple[int, str]]] = {}
        for code, name, _lat, _lon, streets in DISTRICTS:
            district_id = next(next_id)
            district_path = f"{CITY[0]}/{code}"
            regions.append(
                {
                    "id": district_id,
                    "code": code,
                    "name": name,
                    "level": RegionLevel.DISTRICT,
                    "parent_id": city_id,
                    "path": district_path,
                }
            )
            for s_index, street in enumerate(streets, start=1):
                street_id, street_code = next(next_id), f"{code}-{s_index:02d}"
                street_path = f"{district_path}/{street_code}"
                regions.append(
                    {
                        "id": street_id,
                        "code": street_code,
                        "name": street,
                        "level": RegionLevel.CELL,
                        "parent_id": district_id,
                        "path": street_path,
                    }
                )
                for g in range(1, SUB_CELLS_PER_STREET + 1):
                    cell_id, cell_code = next(next_id), f"{street_code}-{g:02d}"
                    regions.append(
                        {
                            "id": cell_id,
                            "code": cell_code,
                            "name": f"{street}第{g}网格",
                            "level": RegionLevel.CELL,
                            "parent_id": street_id,
                            "path": f"{street_path}/{cell_code}",
                        }
                    )
                    sub_cells.setdefault(code, []).append((cell_id, cell_code))
        stations: list[dict[str, Any]] = []
        pumps: list[dict[str, Any]] = []
        station_id = 0
        for code, name, lat, lon, _streets in DISTRICTS:
            for n in range(1, self.shape.stations_per_district + 1):
                station_id += 1
                cell_id, cell_code = self.rng.choice(sub_cells[code])
                station = {
                    "id": station_id,
                    "code": f"ST-{code}-{n:02d}",
                    "name": f"{name}CNG加气站{n}号",
                    "region_id": cell_id,
                    "latitude": round(lat + self.rng.uniform(-0.03, 0.03), 5),
                    "longitude": round(lon + self.rng.uniform(-0.03, 0.03), 5),
                    "monitor_mode": self.rng.random() < 0.1,
                    "active": True,
                }
                stations.append(station)
                pumps.extend(
                    {"station_id": station_id, "number": p, "label": f"{p}号枪"} for p in range(1, self.rng.randint(2, 6) + 1)
                )
        with self.engine.begin() as connection:
            connection.execute(insert(Region), regions)
            connection.execute(insert(Station), stations)
            connection.execute(insert(Pump), pumps)
        self.stations = stations
        self.summary.regions, self.summary.stations = len(regions), len(stations)

    # Vehicles and cylinders --------------------------------------------------------------------

    def _plate(self, index: int) -> str:
        letter = PLATE_LETTERS[index % len(PLATE_LETTERS)]
        rest = index // len(PLATE_LETTERS)
        tail = ""
        for _ in range(5):
            rest, digit = divmod(rest, 34)
            tail += "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"[digit]
        # A real format (tag_tools.identifiers): 5 characters, or 6 on new-energy plates (D/F first).
        return f"豫{letter}{'DF'[index % 2] if index % 7 == 0 else ''}{tail}"

    def _vehicle_rows(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        rng, today, shape = self.rng, self.today, self.shape
        cylinder_number = 0
        for v in range(1, shape.vehicles + 1):
            use = rng.choices(("taxi", "private", "bus", "truck"), weights=(30, 60, 5, 5))[0]
            count = {
                "taxi": rng.choice((1, 1, 2)),
                "private": rng.choice((1, 1, 1, 2)),
                "bus": 4,
                "truck": rng.choice((2, 3, 4)),
            }[use]
            vehicle = {"id": v, "plate": self._plate(v), "vin": None, "use": use, "region_id": None}
            interval = 365 if use in ("taxi", "bus") else 3 * 365
            manufactured = today - timedelta(days=rng.randint(200, 16 * 365))
            cylinders = []
            for position in range(1, count + 1):
                cylinder_number += 1
                end_of_life = (
                    manufactured.replace(year=manufactured.year + SERVICE_LIFE_YEARS)
                    if not (manufactured.month == 2 and manufactured.day == 29)
                    else manufactured + timedelta(days=SERVICE_LIFE_YEARS * 365)
                )
                overdue = rng.random() < shape.overdue_share
                last = (
                    today - timedelta(days=interval + rng.randint(1, 400))
                    if overdue
                    else today - timedelta(days=rng.randint(0, interval - 1))
                )
                last = max(last, manufactured)
                condemned = rng.random() < shape.condemned_share
                cylinders.append(
                    {
                        "id": cylinder_number,
                        "cylinder_id": f"156-4101-{20_000_000 + cylinder_number}",
                        "serial": f"{rng.choice(MANUFACTURERS)[:2]}{manufactured:%Y}-{cylinder_number:08d}",
                        "manufacturer": rng.choice(MANUFACTURERS),
                        "kind": rng.choice(("CNG-1", "CNG-2", "CNG-2", "CNG-3")),
                        "working_pressure_bar": 200.0,
                        "capacity_l": rng.choice((50.0, 65.0, 80.0, 90.0)),
                        "manufactured_on": manufactured,
                        "end_of_life": end_of_life,
                        "next_due": last + timedelta(days=interval),
                        "last_result": "fail" if condemned else "pass",
                        "state": CylinderState.CONDEMNED if condemned else CylinderState.ACTIVE,
                        "tag_uid": "04" + f"{rng.getrandbits(48):012X}",
                        "record_sequence": 1,
                        "vehicle_id": v,
                        "position": position,
                    }
                )
            yield vehicle, cylinders

    def _vehicles_and_cylinders(self) -> None:
        vehicles_chunk: list[dict[str, Any]] = []
        cylinders_chunk: list[dict[str, Any]] = []
        bar = tqdm(total=self.shape.vehicles, desc="vehicles", unit="veh", disable=not self.progress)
        for vehicle, cylinders in self._vehicle_rows():
            vehicles_chunk.append(vehicle)
            cylinders_chunk.extend(cylinders)
            for c in cylinders:
                overdue = c["next_due"] < self.today
                past = c["end_of_life"] <= self.today
                refused = overdue or past or c["state"] is not CylinderState.ACTIVE
                self.summary.overdue += overdue
                self.summary.past_life += past
                self.summary.condemned += c["state"] is CylinderState.CONDEMNED
                if self.shape.event_days:
                    self.cylinders.append((c["id"], c["cylinder_id"], c["tag_uid"], overdue, refused, vehicle["plate"]))
            if len(cylinders_chunk) >= 5000:
                self._flush(vehicles_chunk, cylinders_chunk)
                bar.update(len(vehicles_chunk))
                vehicles_chunk, cylinders_chunk = [], []
        self._flush(vehicles_chunk, cylinders_chunk)
        bar.update(len(vehicles_chunk))
        bar.close()

    def _flush(self, vehicles: list[dict[str, Any]], cylinders: list[dict[str, Any]]) -> None:
        if not vehicles:
            return
        with self.engine.begin() as connection:
            connection.execute(insert(Vehicle), vehicles)
            connection.execute(insert(Cylinder), cylinders)
        self.summary.vehicles += len(vehicles)
        self.summary.cylinders += len(cylinders)

    # Scan events -------------------------------------------------------------------------------

    def event_rows(self) -> Iterator[dict[str, Any]]:
        """Fills over the last `event_days` days; refusals, overrides, monitor-mode and clones."""
        rng, shape = self.rng, self.shape
        start = datetime.combine(self.today - timedelta(days=shape.event_days), time(0), UTC)
        span = shape.event_days * 86400
        per_cylinder = shape.fills_per_vehicle_per_week * shape.event_days / 7
        for cyl_pk, cylinder_id, uid, overdue, refused, plate in self.cylinders:
            home = rng.choice(self.stations)
            counter = rng.randint(10, 500)
            n = max(0, int(rng.gauss(per_cylinder, per_cylinder / 3)))
            times = sorted(rng.randrange(span) for _ in range(n))
            for t in times:
                station = home if rng.random() < 0.7 else rng.choice(self.stations)
                counter += rng.randint(1, 3)
                yield self._event(
                    start + timedelta(seconds=t), station, cyl_pk, cylinder_id, uid, counter, plate, overdue, refused
                )
            if refused and rng.random() < 0.05 and times:  # a clone of this tag fills elsewhere
                far = max(
                    self.stations, key=lambda s: abs(s["latitude"] - home["latitude"]) + abs(s["longitude"] - home["longitude"])
                )
                at = start + timedelta(seconds=times[-1] + rng.randint(300, 1200))
                yield self._event(at, far, cyl_pk, cylinder_id, uid, counter - 5, plate, False, False)

    def _event(
        self,
        at: datetime,
        station: dict[str, Any],
        cyl_pk: int,
        cylinder_id: str,
        uid: str,
        counter: int,
        plate: str,
        overdue: bool,
        refused: bool,
    ) -> dict[str, Any]:
        reasons: list[str] = []
        if refused:
            reasons = ["inspection_overdue"] if overdue else [self.rng.choice(("past_service_life", "cylinder_revoked"))]
            if station["monitor_mode"]:
                outcome = Outcome.WOULD_REFUSE
            else:
                outcome = Outcome.OVERRIDDEN if self.rng.random() < 0.15 else Outcome.REFUSED
        else:
            outcome = Outcome.ALLOWED
        return {
            "event_uuid": uuid.UUID(int=self.rng.getrandbits(128), version=4),
            "occurred_at": at,
            "received_at": at,
            "station_id": station["id"],
            "pump_number": 1,
            "cylinder_pk": cyl_pk,
            "cylinder_id": cylinder_id,
            "tag_uid": uid,
            "read_counter": counter,
            "record_sequence": 1,
            "plate": plate,
            "decision": "refuse" if refused else "allow",
            "outcome": outcome,
            "reasons": ",".join(reasons),
            "reason_mask": mask_of(reasons),
            "attendant": f"A-{self.rng.randint(1, 40):03d}" if outcome is Outcome.OVERRIDDEN else None,
            # Derived without the generator, so the rest of the seeded city stays the same.
            "decided_offline": counter % 50 == 0,
            "supervisor": f"S-{counter % 3 + 1:02d}" if outcome is Outcome.OVERRIDDEN else None,
            "override_reason": OVERRIDE_REASONS[counter % len(OVERRIDE_REASONS)] if outcome is Outcome.OVERRIDDEN else None,
            "session_id": None,
        }

    def _events(self) -> None:
        from registry_service import partitions

        with self.engine.begin() as connection:
            partitions.ensure_daily_partitions(connection, self.today, days_ahead=2, days_back=self.shape.event_days + 1)
        bar = tqdm(desc="scan events", unit="ev", disable=not self.progress)
        for chunk in _chunks(self.event_rows(), 10_000):
            with self.engine.begin() as connection:
                connection.execute(insert(ScanEvent), chunk)
            self.summary.events += len(chunk)
            bar.update(len(chunk))
        bar.close()

    def _derived(self) -> None:
        with Session(self.engine) as session, session.begin():
            derived = events.rebuild_rollups(session, self.reckoning)
        self.summary.day_counts, self.summary.clone_suspects = derived["day_counts"], derived["clone_suspects"]

    def _earlier_day_counts(self) -> None:
        """`rollup_days` days before the events, each a copy of one of the events' whole local days
        (their first and last are partial) with every count scaled by a random 0.8-1.2."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(ScanDayCount).order_by(ScanDayCount.day)).all()
        by_day: dict[date, list[Any]] = {}
        for row in rows:
            by_day.setdefault(row.day, []).append(row)
        whole = sorted(by_day)[1:-1] or sorted(by_day)
        if not whole:
            return
        first = min(by_day)
        chunk: list[dict[str, Any]] = []
        for back in range(1, self.shape.rollup_days + 1):
            day, scale = first - timedelta(days=back), self.rng.uniform(0.8, 1.2)
            for row in by_day[whole[-1 - (back - 1) % len(whole)]]:
                counted = max(1, round(row.scans * scale))
                chunk.append({**row._asdict(), "day": day, "scans": counted})
            if len(chunk) >= 10_000 or back == self.shape.rollup_days:
                with self.engine.begin() as connection:
                    connection.execute(insert(ScanDayCount), chunk)
                self.summary.day_counts += len(chunk)
                chunk = []
        with Session(self.engine) as session, session.begin():  # their day and month totals (0016)
            rollups.rebuild_totals(session)

    def _fix_sequences(self) -> None:
        """Rows were inserted with explicit ids: move PostgreSQL's sequences past them."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as connection:
            for table in ("regions", "stations", "pumps", "vehicles", "cylinders"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
                )


def seed_demo(
    engine: Engine, seed: int, today: date, shape: DemoShape, progress: bool = True, reckoning: Reckoning | None = None
) -> DemoSummary:
    """Seed an empty database; day counts and suspects are reckoned with `reckoning` (default: the
    default RegistryConfig's report offset and plausible speed)."""
    return DemoCity(engine, seed, today, shape, progress, reckoning).build()
