#!/usr/bin/env bash
# Sets up the Python reference library (eventsource-py 0.5.0 from PyPI) in
# bench/peer/.venv, with the drivers its SQLite and PostgreSQL stores need:
# aiosqlite (extra "sqlite"), asyncpg (extra "postgresql") and greenlet,
# which SQLAlchemy's asyncio layer needs (extra "asyncio" of sqlalchemy; not
# pulled in by eventsource-py itself). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -c 'import eventsource, aiosqlite, asyncpg, greenlet; print("eventsource-py", eventsource.__version__, "ready in", __import__("sys").prefix)'
