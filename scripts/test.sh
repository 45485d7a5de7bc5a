#!/usr/bin/env bash
# The whole test suite. Tests marked `services` need PostgreSQL, Redis and
# RabbitMQ on 127.0.0.1; set PRESSROOM_TEST_EMBEDDED_ONLY=1 to run the rest
# without them (SQLite and the filesystem broker).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check pressroom tests bench
.venv/bin/mypy pressroom
exec .venv/bin/pytest "$@"
