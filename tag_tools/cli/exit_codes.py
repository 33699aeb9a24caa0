"""Exit codes of `cylinder-tag`, documented in its --help. Scripts at inspection centres rely on them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    REFUSED = 1  # verify/read: the verdict is REFUSE
    USAGE = 2  # bad command line (argparse's own code)
    BAD_INPUT = 3  # an input file or value is not acceptable; also a batch with failed rows
    KEY_ERROR = 4  # a private key cannot be read, decrypted or written; no passphrase
    TRUST_ERROR = 5  # a certificate or trust list is not acceptable
    READER_ERROR = 6  # a reader or tag failed (not present, removed, locked, busy)
    INTERNAL = 70  # a bug: reported in one line, please file it


EXIT_CODE_HELP = "exit codes: " + ", ".join(f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode)
