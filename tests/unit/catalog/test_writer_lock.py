"""SQLite writers of several processes queue on a lock file, woken as soon as the holder commits."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from expunge.db import open_database

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

_HOLDER = """
import sys, time
from sqlalchemy import text
from expunge.db import open_database
db = open_database(sys.argv[1], migrate=False)
with db.begin() as conn:
    conn.execute(text("create table if not exists t (x integer)"))
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute(text("insert into t values (1)"))
db.dispose()
"""


def test_a_writer_in_another_process_gets_the_slot_as_soon_as_it_is_released(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = open_database(url, migrate=False)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, url, "0.3"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.perf_counter()
        with db.begin() as conn:  # waits for the other process's commit, not for a busy-handler sleep
            waited = time.perf_counter() - started
            assert conn.execute(text("select count(*) from t")).scalar_one() == 1
        assert 0.1 < waited < 0.29 + 0.08  # the holder's remaining sleep, then at once
    finally:
        holder.wait(timeout=30)
        db.dispose()
    assert holder.returncode == 0


def test_a_killed_holder_releases_the_slot(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = open_database(url, migrate=False)
    with db.begin() as conn:
        conn.execute(text("create table t (x integer)"))
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, url, "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait(timeout=30)
        with db.begin() as conn:  # its transaction rolled back, its locks went with it
            assert conn.execute(text("select count(*) from t")).scalar_one() == 0
    finally:
        db.dispose()


def test_databases_of_one_process_on_the_same_file_share_the_writer_lock(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    a, b = open_database(url, migrate=False), open_database(url, migrate=False)
    try:
        assert a.writer is b.writer and a.lockfile is b.lockfile
        with a.begin() as conn:
            conn.execute(text("create table t (x integer)"))
        with b.begin() as conn:
            conn.execute(text("insert into t values (1)"))
    finally:
        a.dispose()
        b.dispose()
