"""The [totaliser] register map, read from pymodbus's own server playing the dispenser's controller.
The register words are written here by hand (not by pymodbus's encoder), so a wrong word order or
data type in the reader cannot agree with itself."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from station_agent.cli import main
from station_agent.config import TotaliserSettings, parse_config
from station_agent.errors import ConfigError
from station_agent.totaliser import ModbusTotaliser, TotaliserError, open_totaliser
from tests.peers import free_tcp_port
from tests.station_agent.conftest import config_document
from tests.station_agent.metered import dispenser
from tests.station_agent.modbus_peer import DispenserPeer

__all__ = ["dispenser"]  # the fixture, imported for this module's tests


def _meter(peer: DispenserPeer, **settings: Any) -> ModbusTotaliser:
    return open_totaliser(TotaliserSettings(path=f"modbus-tcp://127.0.0.1:{peer.port}/1", **settings))


def _float_words(value: float) -> list[int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


@pytest.mark.parametrize(
    ("words", "settings", "expected"),
    [
        ([0x0001, 0xE240], {"data_type": "uint32", "word_order": "big"}, 123456.0),  # high word first
        ([0xE240, 0x0001], {"data_type": "uint32", "word_order": "little"}, 123456.0),  # low word first
        ([0x0001, 0xE240], {"data_type": "uint32", "scale": 0.01}, 1234.56),  # hundredths of a kg
        ([0x1234], {"data_type": "uint16"}, 0x1234),
        (_float_words(4821.25), {"data_type": "float32"}, 4821.25),
        ([0x0000, 0x0000, 0x0001, 0xE240], {"data_type": "uint64", "scale": 0.001}, 123.456),
    ],
)
def test_register_maps(dispenser: DispenserPeer, words: list[int], settings: dict[str, Any], expected: float) -> None:
    dispenser.set_words("holding", 20, words)
    meter = _meter(dispenser, address=20, **settings)
    try:
        assert meter.read() == pytest.approx(expected)
    finally:
        meter.close()


def test_input_and_holding_registers_are_told_apart(dispenser: DispenserPeer) -> None:
    dispenser.set_words("holding", 30, [0x0000, 0x0064])  # 100
    dispenser.set_words("input", 30, [0x0000, 0x00C8])  # 200
    holding = _meter(dispenser, address=30)
    inputs = _meter(dispenser, address=30, register_type="input", unit="Nm3")
    try:
        assert (holding.read(), inputs.read()) == (100.0, 200.0)
        assert inputs.unit == "Nm3"
    finally:
        holding.close()
        inputs.close()


def test_a_counter_that_moves_is_read_again(dispenser: DispenserPeer) -> None:
    dispenser.set_words("holding", 0, [0x0000, 0x0000])
    dispenser.total = 0.0
    meter = _meter(dispenser, address=0, scale=0.01)
    try:
        dispenser.advance(12.5)  # pymodbus encodes 1250 in the peer's layout (uint32, big)
        assert meter.read() == pytest.approx(12.5)
        dispenser.advance(70000)  # past 16 bits: the high word counts
        assert meter.read() == pytest.approx(70012.5)
    finally:
        meter.close()


@pytest.mark.parametrize(
    ("words", "settings"),
    [
        (_float_words(float("nan")), {"data_type": "float32"}),  # not a reading
        ([0xFFFF, 0xFFFE], {"data_type": "int32"}),  # -2: a counter is never negative
    ],
)
def test_values_that_are_not_readings_are_refused(dispenser: DispenserPeer, words: list[int], settings: dict[str, Any]) -> None:
    dispenser.set_words("holding", 40, words)
    meter = _meter(dispenser, address=40, **settings)
    try:
        with pytest.raises(TotaliserError, match="not a meter reading"):
            meter.read()
    finally:
        meter.close()


def test_unreadable_meters_raise_the_typed_error(dispenser: DispenserPeer) -> None:
    beyond = _meter(dispenser, address=63)  # a uint32 at the block's last register runs past it
    dead = open_totaliser(TotaliserSettings(path=f"modbus-tcp://127.0.0.1:{free_tcp_port()}/1", address=0), timeout=0.2)
    try:
        with pytest.raises(TotaliserError, match="answered with an error"):
            beyond.read()
        with pytest.raises(TotaliserError, match="read failed"):
            dead.read()
    finally:
        beyond.close()
        dead.close()


@pytest.mark.parametrize(
    "path",
    [
        "modbus-tcp://host",
        "modbus-tcp://host/1/2",
        "modbus-tcp://host:99999/1",
        "modbus-tcp://h/1?x=1",
        "modbus-rtu:///dev/ttyUSB0",
    ],
)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(TotaliserError):
        open_totaliser(TotaliserSettings(path=path, address=0))


def test_rtu_path() -> None:
    meter = open_totaliser(TotaliserSettings(path="modbus-rtu:///dev/ttyUSB1?unit=7&baud=19200&parity=E", address=0))
    assert meter.device == 7 and meter.client.comm_params.baudrate == 19200


def test_the_totaliser_table(tmp_path: Path) -> None:
    document = config_document(tmp_path, tmp_path / "root.pem")
    assert parse_config(document).totaliser is None  # absent: no metering
    document["totaliser"] = {"path": "modbus-tcp://10.0.0.9/2", "address": 100}
    settings = parse_config(document).totaliser
    assert settings is not None
    assert (settings.register_type, settings.data_type, settings.word_order, settings.unit) == ("holding", "uint32", "big", "kg")
    assert (settings.scale, settings.tolerance, settings.poll.total_seconds(), settings.flow_stop.total_seconds()) == (
        1.0,
        0.05,
        30.0,
        30.0,
    )
    for bad in (
        {"data_type": "int8"},
        {"word_order": "middle"},
        {"unit": "litre"},
        {"register_type": "coil"},
        {"scale": 0},
        {"poll_s": 0},
        {"address": 70000},
        {"path": "log:"},
        {"colour": "red"},
    ):
        document["totaliser"] = {"path": "modbus-tcp://10.0.0.9/2", "address": 100, **bad}
        with pytest.raises(ConfigError, match="totaliser"):
            parse_config(document)


def test_check_config_shows_the_reading(dispenser: DispenserPeer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What an installer compares with the dispenser's display (docs/station.md)."""
    example = Path(__file__).parent.parent / "data" / "station"
    text = (example / "station.toml").read_text(encoding="utf-8")
    for name in ("bureau-root.pem", "station.token"):
        text = text.replace(f'"{name}"', f'"{example / name}"')
    dispenser.set_words("holding", 0, [0x0049, 0x8F0A])  # 4820746 hundredths
    metered = tmp_path / "metered.toml"
    metered.write_text(text + f'\n[totaliser]\npath = "modbus-tcp://127.0.0.1:{dispenser.port}/1"\naddress = 0\nscale = 0.01\n')
    assert main(["check-config", "--config", str(metered)]) == 0
    assert "totaliser 48207.460 kg" in capsys.readouterr().out
    dead = tmp_path / "dead.toml"
    dead.write_text(text + f'\n[totaliser]\npath = "modbus-tcp://127.0.0.1:{free_tcp_port()}/1"\naddress = 0\n')
    assert main(["check-config", "--config", str(dead)]) == 0  # the agent runs unmetered: a warning
    out, err = capsys.readouterr()
    assert "totaliser unreadable" in out and "read failed" in err
