# nfcpy 1.0.4: only what tag_tools and its tests use (see stubs/README.md).
from . import clf as clf
from . import tag as tag
from .clf import ContactlessFrontend as ContactlessFrontend

__version__: str
