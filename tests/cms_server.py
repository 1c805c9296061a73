"""A private MariaDB for the CMS tests: ``mariadbd`` on a Unix socket in a temporary directory.

``mariadb`` (session-scoped, registered by ``tests/conftest.py``) installs a
data directory with ``mariadb-install-db``, starts ``mariadbd`` without
networking, waits for its socket and kills it at the end. Real grants are
on, so a read-only user and an over-privileged one can be told apart.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.parts import require, require_executable

SCHEMAS = Path(__file__).parent / "data" / "cms"
READER_PASSWORD = "read-only-Pw1"
EDITOR_PASSWORD = "editor-Pw2"


class MariaDB:
    """One running server: its socket, an admin connection and helpers to load a CMS."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.socket = str(base / "sock")

    def connect(self, database: str | None = None, charset: str = "utf8mb4") -> Any:
        import pymysql

        return pymysql.connect(
            unix_socket=self.socket, user="root", database=database, charset=charset, autocommit=True
        )

    def dsn(self, database: str, user: str = "reader") -> str:
        password = READER_PASSWORD if user == "reader" else EDITOR_PASSWORD
        return f"mysql://{user}:{password}@localhost/{database}?unix_socket={self.socket}"

    def create(self, database: str, schema: str, prefix: str, charset: str) -> Any:
        """A fresh database with a CMS's tables (``tests/data/cms/<schema>.sql``); return a root connection."""
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cur.execute(f"CREATE DATABASE `{database}`")
            cur.execute(f"GRANT SELECT ON `{database}`.* TO 'reader'@'localhost'")
            cur.execute(f"GRANT ALL ON `{database}`.* TO 'editor'@'localhost'")
        conn.close()
        conn = self.connect(database, "latin1" if charset == "latin1" else "utf8mb4")
        sql = (SCHEMAS / f"{schema}.sql").read_text(encoding="utf-8")
        sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        sql = sql.replace("#@__", prefix).replace("@charset", charset)
        with conn.cursor() as cur:
            for statement in sql.split(";"):
                if statement.strip():
                    cur.execute(statement)
        return conn


def run(conn: Any, sql: str, rows: Sequence[Sequence[Any]] | None = None) -> None:
    """Execute ``sql`` once, or once per row."""
    with conn.cursor() as cur:
        if rows is None:
            cur.execute(sql)
        else:
            cur.executemany(sql, rows)


def start(
    base: Path, install: str = "/usr/bin/mariadb-install-db", server: str = "/usr/sbin/mariadbd"
) -> tuple[subprocess.Popen, MariaDB]:
    """Install a data directory under ``base`` and start ``mariadbd`` on ``base/sock``, with the two users.

    Raises ``RuntimeError`` when the server does not come up; ``stop`` ends it.
    """
    user = ["--user=root"] if os.geteuid() == 0 else []
    data = base / "data"
    done = subprocess.run(
        [install, "--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db", f"--datadir={data}"]
        + user,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed: {done.stderr[-500:]}")
    proc = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={base / 'sock'}",
            f"--pid-file={base / 'pid'}",
            f"--log-error={base / 'error.log'}",
            "--skip-networking",
            "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0",
            "--key-buffer-size=16M",
        ]
        + user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = MariaDB(base)
    deadline = time.monotonic() + 60
    while True:
        try:
            db.connect().close()
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                log = base / "error.log"
                raise RuntimeError(
                    f"mariadbd did not start: {log.read_text(errors='replace')[-1000:] if log.exists() else ''}"
                ) from None
            time.sleep(0.1)
    conn = db.connect()
    run(conn, f"CREATE USER 'reader'@'localhost' IDENTIFIED BY '{READER_PASSWORD}'")
    run(conn, f"CREATE USER 'editor'@'localhost' IDENTIFIED BY '{EDITOR_PASSWORD}'")
    conn.close()
    return proc, db


def stop(proc: subprocess.Popen) -> None:
    """End the server this module started: SIGTERM, then SIGKILL after 20 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A private mariadbd for the session, with users ``reader`` (SELECT) and ``editor`` (ALL)."""
    pytest.importorskip("pymysql")
    install = require_executable("/usr/bin/mariadb-install-db", "mariadb-server")
    server = require_executable("/usr/sbin/mariadbd", "mariadb-server")
    base = tmp_path_factory.mktemp("mariadb")
    try:
        proc, db = start(base, install, server)
    except RuntimeError as exc:
        require(False, str(exc))
    try:
        yield db
    finally:
        stop(proc)
        shutil.rmtree(base, ignore_errors=True)
