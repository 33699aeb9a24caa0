"""Exit codes for reader errors, kept apart so the command works without reader extras installed."""

from tag_tools.cli.exit_codes import ExitCode
from tag_tools.errors import TagToolsError


def reader_exit_code(error: TagToolsError) -> ExitCode | None:
    """READER_ERROR for errors raised by tag_tools.readers, None for anything else."""
    try:
        from tag_tools.readers.errors import ReaderError
    except ImportError:
        return None
    return ExitCode.READER_ERROR if isinstance(error, ReaderError) else None
