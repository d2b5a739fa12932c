"""The PostgreSQL side of the database scenarios: a database of our own, one indexed table.

``bench_aiodjango`` (``BENCH_DB_NAME``) on 127.0.0.1:5432, user postgres, table ``bench_item``
with ``ROWS`` rows; the views read a random primary key. Made once, reused by later runs.
"""

from __future__ import annotations

import os
from typing import Final

NAME: Final = os.environ.get("BENCH_DB_NAME", "bench_aiodjango")
ROWS: Final = 1000
DSN: Final = "host=127.0.0.1 port=5432 user=postgres connect_timeout=5"


def prepare() -> str | None:
    """Create the database and table if absent; the problem as text if PostgreSQL is not usable."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(f"{DSN} dbname=postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (NAME,)).fetchone():
                conn.execute(f'CREATE DATABASE "{NAME}"')
        with psycopg.connect(f"{DSN} dbname={NAME}", autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_item "
                "(id integer PRIMARY KEY, name varchar(50) NOT NULL)"
            )
            conn.execute(
                "INSERT INTO bench_item SELECT n, 'item ' || n FROM generate_series(1, %s) n "
                "ON CONFLICT DO NOTHING",
                (ROWS,),
            )
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None
