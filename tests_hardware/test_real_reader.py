"""Against a real reader and tag. Not part of the default suite (no reader on CI machines): run it
when a reader is attached, naming it in CYLINDER_TAG_READER, e.g.

    CYLINDER_TAG_READER=pcsc:ACR122 .venv/bin/python -m pytest tests_hardware/test_real_reader.py -q

Reading never changes the tag. The write test runs only with CYLINDER_TAG_WRITABLE=1 and never
locks (locking is permanent): put a blank NTAG215/216 you can spare on the reader.
"""

import os

import pytest

from tag_tools.readers import open_reader, read_tag, write_tag
from tag_tools.verdict import Originality

READER = os.environ.get("CYLINDER_TAG_READER", "")
pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(not READER, reason="no real reader: set CYLINDER_TAG_READER (e.g. pcsc:ACR122, nfcpy:usb)"),
]


def test_read_a_real_tag() -> None:
    with open_reader(READER) as reader:
        tag = read_tag(reader, timeout=30)
    print(f"\n{tag.to_json()}")
    assert len(tag.uid) in (4, 7, 10)
    assert tag.originality in (Originality.GENUINE, Originality.NOT_GENUINE, Originality.NOT_AVAILABLE)
    if tag.chip.startswith("NTAG21"):
        # A genuine NXP NTAG21x must pass NXP's key; anything else here is a clone or a bug.
        assert tag.originality is Originality.GENUINE
        assert tag.round_trips <= 6


@pytest.mark.skipif(os.environ.get("CYLINDER_TAG_WRITABLE") != "1", reason="set CYLINDER_TAG_WRITABLE=1 to allow writing")
def test_write_and_read_back_a_real_tag() -> None:
    message = b"\xd1\x01\x0dT\x02encylinder-tag"
    with open_reader(READER) as reader:
        result = write_tag(reader, message, lock=False, timeout=30)
        assert not result.locked
        assert read_tag(reader, timeout=30).ndef_message == message
