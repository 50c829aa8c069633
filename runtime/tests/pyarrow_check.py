#!/usr/bin/env python3
"""Cross-check our Parquet files with pyarrow (and DuckDB when installed).

usage: pyarrow_check.py RAW_ROOT PARQUET_ROOT

For every RAW_ROOT/<folder>/YYYY/MM/DD/<file>.json.gzip, reads PARQUET_ROOT/<folder>/.../<file>.parquet
and checks the schema against the original functions' schemas (seed-analysis 3.1), with every
timestamp column as timestamp[ms] (see runtime/src/etl/schema.rs), and every value against the raw
JSON converted the way the original did (strptime, then truncation to the column's unit).
Exits non-zero with a message on the first difference.
"""
import datetime
import gzip
import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq

TS_MS = pa.timestamp("ms")
# The original's unit for each timestamp column; the stored unit is ms for all of them.
SECONDS = "s"
MILLIS = "ms"

SCHEMAS = {
    "etl_meta": [
        ("etl_id", pa.string()), ("service", pa.string()), ("mode", pa.string()),
        ("timestamp_start", MILLIS), ("timestamp_end", MILLIS),
    ],
    "buffer_meta": [
        ("etl_id", pa.string()), ("msg_id", pa.string()), ("checksum", pa.string()),
        ("headers", pa.list_(pa.string())), ("key", pa.string()), ("offset", pa.uint64()),
        ("partition", pa.uint8()), ("serialized_key_size", pa.int16()),
        ("serialized_value_size", pa.int16()), ("timestamp", MILLIS), ("timestamp_type", pa.uint8()),
        ("topic", pa.string()), ("_is_protocol", pa.bool_()),
    ],
    "log_meta": [
        ("etl_id", pa.string()), ("msg_id", pa.string()), ("level", pa.string()),
        ("timestamp", MILLIS), ("name", pa.string()), ("log_message", pa.string()),
    ],
    "lib_server_lobby": [
        ("etl_id", pa.string()), ("msg_id", pa.string()), ("timestamp", SECONDS),
        ("game_token", pa.string()), ("user_token", pa.string()), ("superhero_id", pa.uint16()),
        ("superhero_attack", pa.uint64()), ("superhero_health", pa.uint64()),
    ],
    "lib_server_game": [
        ("etl_id", pa.string()), ("msg_id", pa.string()), ("timestamp", SECONDS),
        ("game_token", pa.string()), ("user_token", pa.string()), ("action", pa.string()),
        ("enemy_token", pa.string()), ("enemy_damage", pa.uint64()),
        ("enemy_health_prior", pa.uint64()), ("enemy_health_post", pa.uint64()),
    ],
}


def fail(msg):
    print(f"pyarrow_check: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def expected_timestamp(s, unit):
    t = datetime.datetime.strptime(s.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f" if "." in s else "%Y-%m-%dT%H:%M:%S")
    if unit == SECONDS:
        return t.replace(microsecond=0)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def check_file(raw_path, parquet_path, folder):
    records = json.loads(gzip.open(raw_path, "rb").read())
    columns = SCHEMAS[folder]
    table = pq.read_table(parquet_path)
    expected_schema = pa.schema(
        [pa.field(n, TS_MS if t in (SECONDS, MILLIS) else t) for n, t in columns]
    )
    if not table.schema.equals(expected_schema, check_metadata=False):
        fail(f"{parquet_path}: schema\n{table.schema}\n!= expected\n{expected_schema}")
    if table.num_rows != len(records):
        fail(f"{parquet_path}: {table.num_rows} rows, raw has {len(records)}")
    rows = table.to_pylist()
    for i, (record, row) in enumerate(zip(records, rows)):
        for name, typ in columns:
            want = record[name]
            if typ in (SECONDS, MILLIS) and want is not None:
                want = expected_timestamp(want, typ)
            if row[name] != want:
                fail(f"{parquet_path}: row {i} column {name}: {row[name]!r} != {want!r}")
    return len(records)


def check_duckdb(parquet_root):
    try:
        import duckdb
    except ImportError:
        print("pyarrow_check: duckdb not installed, skipping the DuckDB check")
        return
    con = duckdb.connect()
    for folder, columns in SCHEMAS.items():
        pattern = str(parquet_root / folder / "**" / "*.parquet")
        described = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{pattern}')").fetchall()}
        for name, typ in columns:
            if typ in (SECONDS, MILLIS) and not described[name].startswith("TIMESTAMP"):
                fail(f"DuckDB sees {folder}.{name} as {described[name]}, not a TIMESTAMP")
        print(f"pyarrow_check: duckdb {folder}: {described}")


def main():
    raw_root, parquet_root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    files = rows = 0
    for raw_path in sorted(raw_root.rglob("*.json.gzip")):
        relative = raw_path.relative_to(raw_root)
        folder = relative.parts[0]
        parquet_path = parquet_root / str(relative).replace(".json.gzip", ".parquet")
        rows += check_file(raw_path, parquet_path, folder)
        files += 1
    if files == 0:
        fail(f"no raw files under {raw_root}")
    check_duckdb(parquet_root)
    print(f"pyarrow_check: OK, {files} files, {rows} rows (pyarrow {pa.__version__})")


if __name__ == "__main__":
    main()
