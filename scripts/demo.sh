#!/usr/bin/env bash
# The demo on embedded defaults: see README.md. Extra arguments go to the demo program.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
bootstrap demo
cd "$bootstrap_root"
exec python -m cylinder_demo "$@"
