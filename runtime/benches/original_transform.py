#!/usr/bin/env python3
"""The original Azure function's transform (seed-analysis 3.1), on local files, for the benchmark.

usage: original_transform.py FOLDER INPUT.json.gzip OUTPUT.parquet

json.load of the whole gzip file, a per-record dict with strptime for every timestamp, a column map,
pa.Table.from_pydict(schema) and pq.write_table(compression='gzip'), as the function did.
"""
import datetime
import gzip
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMAS = {
    "buffer_meta": pa.schema({
        "etl_id": pa.string(), "msg_id": pa.string(), "checksum": pa.string(),
        "headers": pa.list_(pa.string()), "key": pa.string(), "offset": pa.uint64(),
        "partition": pa.uint8(), "serialized_key_size": pa.int16(), "serialized_value_size": pa.int16(),
        "timestamp": pa.timestamp("ms"), "timestamp_type": pa.uint8(), "topic": pa.string(),
        "_is_protocol": pa.bool_(),
    }),
    "lib_server_game": pa.schema({
        "etl_id": pa.string(), "msg_id": pa.string(), "timestamp": pa.timestamp("s"),
        "game_token": pa.string(), "user_token": pa.string(), "action": pa.string(),
        "enemy_token": pa.string(), "enemy_damage": pa.uint64(), "enemy_health_prior": pa.uint64(),
        "enemy_health_post": pa.uint64(),
    }),
}
TIMESTAMP_FIELDS = {"buffer_meta": ["timestamp"], "lib_server_game": ["timestamp"]}


def transform(folder, data):
    out = []
    for r in data:
        row = {k: r[k] for k in SCHEMAS[folder].names}
        for k in TIMESTAMP_FIELDS[folder]:
            row[k] = datetime.datetime.strptime(r[k], "%Y-%m-%dT%H:%M:%S.%f")
        out.append(row)
    return out


def write_parquet(data, path, schema):
    columns = {k: [] for k in schema.names}
    for r in data:
        for k in r.keys():
            columns[k].append(r[k])
    tbl = pa.Table.from_pydict(dict(zip(schema.names, tuple([columns[c] for c in columns.keys()]))), schema=schema)
    pq.write_table(tbl, where=path, compression="gzip")
    return tbl.num_rows


def main():
    folder, source, target = sys.argv[1:4]
    with gzip.open(source, "rb") as f:
        data = json.load(f)
    rows = write_parquet(transform(folder, data), target, SCHEMAS[folder])
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
