"""What a reader learnt about the chip itself, besides its memory: a leaf module below readers and verdicts.

Transports (tag_tools.readers.base) report it, the NTAG facts (tag_tools.ntag) compute originality,
and verification (tag_tools.verdict, which re-exports both names) weighs it; living here, none of
them has to import a layer above itself.
"""

from dataclasses import dataclass
from enum import Enum


class Originality(Enum):
    """Result of the chip's NXP originality-signature check, when the reader could run it."""

    GENUINE = "genuine"
    NOT_GENUINE = "not_genuine"
    NOT_AVAILABLE = "not_available"


@dataclass(frozen=True)
class ChipEvidence:
    """What the reader learnt about the chip itself, besides its memory."""

    originality: Originality = Originality.NOT_AVAILABLE
    chip: str | None = None  # "NTAG215", ...
    read_counter: int | None = None
