"""Entry point of `cylinder-tag`: builds the parser from the command modules and turns every
expected error into one clear line and a documented exit code (no tracebacks for users)."""

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from tag_tools.cli.exit_codes import EXIT_CODE_HELP, ExitCode
from tag_tools.errors import InputError, KeyStoreError, TagToolsError, TrustError

# Each module exposes register(subparsers) and sets `handler` (args -> ExitCode) on its parsers.
COMMAND_MODULES: tuple[str, ...] = (
    "tag_tools.cli.ca",
    "tag_tools.cli.centre",
    "tag_tools.cli.trustlist",
    "tag_tools.cli.sign",
    "tag_tools.cli.status_block",
    "tag_tools.cli.inspect",
    "tag_tools.cli.hardware",
)

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cylinder-tag",
        description="Sign, verify and show cylinder tag records; run the bureau's CA and trust list.",
        epilog=EXIT_CODE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def exit_code_for(error: TagToolsError) -> ExitCode:
    """Map an error to its exit code; subclasses added later fall back to BAD_INPUT."""
    from tag_tools.cli.hardware_errors import reader_exit_code  # late: keeps readers optional

    if isinstance(error, KeyStoreError):
        return ExitCode.KEY_ERROR
    if isinstance(error, TrustError):
        return ExitCode.TRUST_ERROR
    reader_code = reader_exit_code(error)
    if reader_code is not None:
        return reader_code
    if isinstance(error, InputError):
        return ExitCode.BAD_INPUT
    return ExitCode.BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.handler(args))
    except TagToolsError as error:
        print(f"cylinder-tag: error: {error}", file=sys.stderr)
        return int(exit_code_for(error))
    except KeyboardInterrupt:
        print("cylinder-tag: interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"cylinder-tag: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    except Exception as error:
        log.debug("internal error", exc_info=True)
        print(f"cylinder-tag: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
