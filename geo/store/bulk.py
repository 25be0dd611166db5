"""COPY an Arrow table into PostgreSQL: the one bulk path of the platform."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv


def copy_table(conn, name: str, table: pa.Table) -> None:
    """Append ``table`` to the database table ``name`` (same column names) with COPY.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        A connection inside a transaction (psycopg 3 underneath).
    name : str
        The target table; its columns named as the Arrow table's.
    table : pyarrow.Table
        The rows; nulls become NULL.
    """
    if table.num_rows == 0:
        return
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False,
                                                                    quoting_style="needed"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(
            f"COPY {name} ({', '.join(table.column_names)}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())
