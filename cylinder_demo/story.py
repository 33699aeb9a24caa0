"""The story, step by step, printed as it happens. Each step calls the project's own code; this
module only orders the steps and says what each one means."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cylinder_demo.bureau import CENTRE_ID, CENTRE_NAME, ROGUE_ID, Bureau, create_bureau
from cylinder_demo.dashboard import Sighting, check_centre_sign_in, check_dashboard, check_grid_cases
from cylinder_demo.fleet import SignedVehicle, Tamper, sign_fleet
from cylinder_demo.registry import STATION_CELL, STATION_CODE, STATION_NAME, Credentials, DemoRegistry
from cylinder_demo.station import DemoStation, VehicleOutcome, write_station_toml
from cylinder_demo.tags import OriginalityKeys
from tag_tools.labels import decision_text
from tag_tools.verdict import Decision


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say(f"\n== {text} ==")


def vehicle_line(vehicle: SignedVehicle, outcome: VehicleOutcome) -> str:
    """One line per vehicle: plate, cylinders read, decision in Chinese and English, reason codes."""
    zh, en = decision_text(outcome.decision, "zh"), decision_text(outcome.decision, "en")
    reasons = ",".join(outcome.reasons) or "-"
    pump = "pump on" if outcome.pump_enabled else "pump off"
    return (
        f"{vehicle.scenario.label:<22}{vehicle.scenario.plate}  {outcome.read}/{outcome.expected} cylinders  "
        f"{zh} / {en}  {reasons}  [{pump}]"
    )


@dataclass
class Result:
    mismatches: list[str]
    dashboard_problems: list[str]


class Story:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.now = datetime.now(UTC)
        self.today = self.now.date()
        self.registry: DemoRegistry | None = None
        self.credentials: Credentials | None = None

    @property
    def station_config(self) -> Path:
        """The station's config, written by write_station_toml; it holds the station's API token."""
        return self.folder / "station" / "station.toml"

    def tell(self, stack: ExitStack) -> Result:
        bureau = self._bureau()
        registry = self.registry = self._registry(bureau, stack)
        fleet = self._centre(bureau, registry)
        station = self._station(bureau, registry, stack)
        outcomes = self._drive(station, fleet)
        mismatches = [m for v, o in outcomes if (m := mismatch(v, o))]
        heading("The station uploads its scan events to the registry")
        station.wait_delivered()
        say(f"all {len(station.agent.outbox.event_ids())} scan events delivered")
        return Result(mismatches, self._dashboard(registry, outcomes))

    def _dashboard(self, registry: DemoRegistry, outcomes: list[tuple[SignedVehicle, VehicleOutcome]]) -> list[str]:
        heading("The bureau's dashboard shows the refused vehicles")
        assert self.credentials is not None
        sightings = [Sighting(o.plate, v.tags[-1].uid.hex().upper()) for v, o in outcomes if o.decision is Decision.REFUSE]
        credentials = self.credentials
        problems = check_dashboard(
            registry.base_url, credentials.bureau_user, credentials.bureau_password, STATION_CODE, sightings
        )
        problems += check_centre_sign_in(registry.base_url, credentials.centre_user, credentials.centre_password)
        cases = registry.open_case_numbers()
        grid_problems = check_grid_cases(registry.base_url, credentials.grid_user, credentials.grid_password, cases)
        problems += grid_problems
        for problem in problems:
            say(f"dashboard check FAILED: {problem}")
        if not problems:
            say(
                f"dashboard check passed: signed in as {credentials.bureau_user} and found all "
                f"{len(sightings)} refused vehicles among {STATION_CODE}'s refused attempts; "
                f"signed in as {credentials.centre_user} and saw the centre's inspections"
            )
        if not grid_problems:
            say(
                f"grid check passed: the refused vehicles opened {len(cases)} cases in grid cell {STATION_CELL} "
                f"({', '.join(cases)}); signed in as {credentials.grid_user} and found them all on its case list"
            )
        return problems

    def _bureau(self) -> Bureau:
        heading("The bureau creates its root CA and certifies an inspection centre")
        bureau = create_bureau(self.folder, self.now)
        say(f"bureau root CA     {bureau.root_path}")
        say(f"centre {CENTRE_ID}     {CENTRE_NAME}, certificate in {self.folder / 'centre'}")
        say(f"trust list         {bureau.trust_list_path} (lists centre {CENTRE_ID}; centre {ROGUE_ID} was never certified)")
        return bureau

    def _registry(self, bureau: Bureau, stack: ExitStack) -> DemoRegistry:
        heading("The registry seeds a city, publishes the trust list and opens accounts")
        registry = DemoRegistry(self.folder, bureau, self.port)
        stack.callback(registry.close)
        summary = registry.build(self.today)
        say(
            f"seeded a synthetic Zhengzhou: {summary.regions} regions, {summary.stations} stations, "
            f"{summary.vehicles} vehicles, {summary.cylinders} cylinders, {summary.events} scan events"
        )
        self.credentials = registry.enrol()
        say(f"station {STATION_CODE} {STATION_NAME}, with an API token; bureau and centre accounts (sign-in at the end)")
        registry.serve()
        say(f"registry listening on {registry.base_url} (API {registry.api_url})")
        return registry

    def _centre(self, bureau: Bureau, registry: DemoRegistry) -> list[SignedVehicle]:
        heading("The centre signs its inspections, writes the tags and reports to the registry")
        fleet = sign_fleet(bureau, self.today)
        assert self.credentials is not None
        reported = 0
        for vehicle in fleet:
            for record in vehicle.reports:
                registry.submit_inspection(record, self.credentials.centre_token)
                reported += 1
        say(
            f"{sum(len(v.tags) for v in fleet)} tags written for {len(fleet)} vehicles; "
            f"{reported} inspections reported (the uncertified centre's record is not accepted there)"
        )
        for vehicle in fleet:
            if vehicle.scenario.tamper is Tamper.FORGED:
                say(f"forged: {vehicle.scenario.plate}'s overdue record edited to fall due 3 years later, signature kept")
            elif vehicle.scenario.tamper is Tamper.MOVED:
                say(f"moved: {vehicle.scenario.plate}'s valid record copied onto tag {vehicle.tags[0].uid.hex().upper()}")
        return fleet

    def _station(self, bureau: Bureau, registry: DemoRegistry, stack: ExitStack) -> DemoStation:
        heading("A station agent starts: emulated NFC reader (nfcpy udp), `log:` pump interlock")
        assert self.credentials is not None
        token = self.credentials.station_token

        def config(reader: str) -> Path:
            return write_station_toml(
                self.folder / "station", STATION_CODE, reader, bureau.root_path, bureau.trust_list_path, registry.api_url, token
            )

        station = DemoStation(self.folder / "station", OriginalityKeys.generate(), config)
        stack.callback(station.close)
        station.start()
        say(f"station {STATION_CODE} pump 1, reader {station.rig.reader_path}, config {self.station_config}")
        say(f"attendant screen   {station.attendant.url}")
        return station

    def _drive(self, station: DemoStation, fleet: list[SignedVehicle]) -> list[tuple[SignedVehicle, VehicleOutcome]]:
        heading("Vehicles drive past the reader")
        outcomes = []
        for vehicle in fleet:
            outcome = station.drive(vehicle)
            say(vehicle_line(vehicle, outcome))
            if problem := mismatch(vehicle, outcome):
                say(f"{'':<22}!! {problem}")
            outcomes.append((vehicle, outcome))
        return outcomes


def mismatch(vehicle: SignedVehicle, outcome: VehicleOutcome) -> str | None:
    """What the station decided otherwise than the story says, if anything."""
    wanted = (vehicle.scenario.decision, vehicle.scenario.reasons)
    if (outcome.decision, outcome.reasons) == wanted:
        return None
    return f"{vehicle.scenario.plate}: expected {wanted[0].value} {','.join(wanted[1]) or '-'}"


def print_sign_in(registry: DemoRegistry, credentials: Credentials, station_config: Path) -> None:
    """Every account the demo made and how it signs in: people with a user name and password on
    the dashboard, the station with the API token in its config file."""
    heading("Open the dashboard")
    say(f"dashboard  {registry.dashboard_url}")
    say(f"refused    {registry.dashboard_url}attempts?station={STATION_CODE}&outcome=refused   (this demo's station)")
    say(f"cases      {registry.dashboard_url}cases?region={STATION_CELL}   (the cases its refused vehicles opened)")
    say(f"handheld   {registry.base_url}/verify/   (a phone checks a tag offline: Web NFC needs Chrome on Android)")
    accounts = (
        ("bureau", credentials.bureau_user, credentials.bureau_password, "the bureau: every page"),
        ("centre", credentials.centre_user, credentials.centre_password, f"centre {CENTRE_ID}: its own inspections"),
        ("grid", credentials.grid_user, credentials.grid_password, f"grid officer of cell {STATION_CELL}: its cases"),
    )
    width = max(len(user) for _, user, _, _ in accounts)
    for role, user, password, sees in accounts:
        say(f"{role:<10} user {user:<{width}}  password {password}   ({sees})")
    say(f"{'station':<10} {STATION_CODE} signs in with the API token in {station_config}")
    say("passwords are generated for this run and shown once")


def fail(message: str) -> int:
    print(f"cylinder_demo: {message}", file=sys.stderr, flush=True)
    return 1
