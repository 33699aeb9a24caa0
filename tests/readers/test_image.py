"""Tag image files for `cylinder-tag emulate`."""

import json
from pathlib import Path

import pytest

from tag_tools import ntag
from tag_tools.emulation.image import image_from_json, image_to_json, load_image, save_image
from tag_tools.errors import InputError

DATA = Path(__file__).parents[1] / "data" / "readers"


def test_example_image_loads() -> None:
    image = load_image(DATA / "ntag215_blank.json")
    assert image.emulator.chip is ntag.NTAG215
    assert image.emulator.uid == bytes.fromhex("04a2c4d2e15a80")
    assert image.emulator.page(3) == ntag.NTAG215.cc


def test_round_trip(tmp_path: Path) -> None:
    image = image_from_json({"chip": "NTAG216", "uid": "04010203040506", "read_counter": 7, "signature": "ab" * 32})
    image.emulator.handle(b"\xa2\x04\x03\x00\xfe\x00")
    save_image(image, tmp_path / "tag.json")
    again = load_image(tmp_path / "tag.json")
    assert again.emulator.memory == image.emulator.memory
    assert (again.emulator.counter, again.emulator.signature) == (7, bytes.fromhex("ab" * 32))
    assert image_to_json(again)["format"] == "cylinder-tag/ntag-image/1"


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"uid": "04"},
        {"chip": "NTAG424", "uid": "04010203040506"},
        {"uid": "04010203040506", "pages": "00"},
        {"uid": "04010203040506", "signature": "zz"},
        {"uid": "04010203040506", "read_counter": -1},
        {"format": "other", "uid": "04010203040506"},
    ],
)
def test_bad_images(document: object) -> None:
    with pytest.raises(InputError):
        image_from_json(json.loads(json.dumps(document)))
