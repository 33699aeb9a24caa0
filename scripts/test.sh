#!/usr/bin/env bash
# The whole test suite, with the real peers it needs (see README.md). Extra arguments go to pytest.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
bootstrap test
cd "$bootstrap_root"
exec python -m pytest "$@"
