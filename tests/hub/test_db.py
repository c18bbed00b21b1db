"""The schema brings tables made by an older hub up to date, keeping their rows."""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import create_schema, make_engine


def _columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_older_tables_get_their_new_columns_and_keep_their_rows(registry_url: str) -> None:
    engine = make_engine(registry_url)
    create_schema(engine)
    dropped = {
        "devices": ["status_ts"],
        "streams": ["min_seq", "duplicates"],
        "events": ["boot_id", "seq"],
    }
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX events_identity"))
        for table, names in dropped.items():
            for name in names:
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {name}"))
        conn.execute(
            sa.text(
                "INSERT INTO devices (id, model, site, firmware, config_version, labels, online,"
                " boot_id, keepalive, created) VALUES ('old-1', '', '', '', 0, '{}', false, '',"
                " 60, 1.0)"
            )
        )
    assert not _columns(engine, "devices") & {"status_ts"}

    create_schema(engine)  # the upgraded hub starts
    for table, names in dropped.items():
        assert set(names) <= _columns(engine, table), table
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, status_ts FROM devices")).all() == [("old-1", None)]
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("events")}
    assert "events_identity" in indexes
    engine.dispose()
