"""Whole databases, created and dropped through the admin role (tests, benches, `drp up`)."""

from __future__ import annotations

import psycopg
from psycopg import sql


def database_exists(conn: psycopg.Connection[object], name: str) -> bool:
    return conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is not None


def create_owned_database(conn: psycopg.Connection[object], name: str, owner: str) -> None:
    """`create database name owner owner` on an autocommit admin connection; an error if it exists."""
    conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(owner)))


def create_database(admin_dsn: str, name: str, owner: str) -> None:
    """A fresh database `name` owned by `owner` (an error if it exists: callers want a fresh one)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        create_owned_database(conn, name, owner)


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop `name` if it exists, ending its sessions first (`with (force)`, PostgreSQL 13+)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
