"""Read and write cylinder tags on real readers (nfcpy, PC/SC): see docs/readers.md.

from tag_tools.readers import open_reader, read_tag
with open_reader("pcsc:ACR122") as reader:
    tag = read_tag(reader, timeout=10)
"""

from tag_tools.readers.base import Reader, ReadOptions, TagRead, WriteResult
from tag_tools.readers.ntag_protocol import read_tag, write_tag
from tag_tools.readers.paths import open_reader

__all__ = ["ReadOptions", "Reader", "TagRead", "WriteResult", "open_reader", "read_tag", "write_tag"]
