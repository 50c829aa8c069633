#!/usr/bin/env python3
"""Minimal, faithful port of the original batch worker (seed-analysis §2.2-2.6) for the benchmark.

Kept from the original: aiokafka consumer (enable_auto_commit=False, null-key deserializer), the
getmany(timeout_ms=1000) loop, the per-message extract / uuid4 msg_id / transform_buffer /
transform_log / transform chain with its validation asserts, the per-partition run count with the
strict `> BATCH_SIZE` flush trigger, `end_func` writing etl_meta, buffer_meta, log_meta and the task
file as gzip JSON arrays (gzip level 9, as fsspec's gzip codec) only when there are task rows, and
the once-a-second Redis `last_offset` save. Optionally the `asyncio.sleep(1)` per partition per poll.

Changed only so that it can run against the load generator's data and finish:
  * one process consumes both topics (one ETL state per topic) instead of one worker per topic;
  * timestamps are parsed tolerantly (the original crashes on the simulator's current formats);
  * it stops after --expect messages and flushes what it holds (the original never does);
  * auto_offset_reset="earliest" on a fresh group instead of seeking from Redis.
"""
import argparse
import asyncio
import datetime
import gzip
import json
import os
import resource
import time
import uuid

import redis
from aiokafka import AIOKafkaConsumer


def parse_ts(text):
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError(text)


class ETLClient:
    def __init__(self, topic, out_dir):
        self.topic = topic
        self.out_dir = out_dir
        self.etl_id = str(uuid.uuid4())
        self.msg_id = None
        self.etl, self.buffers, self.logs, self.tasks = [], [], [], []
        self.start_time = datetime.datetime.now()

    @staticmethod
    def extract(msg):
        log = json.loads(msg.value.decode("utf8"))
        task = json.loads(log["task"]) if isinstance(log["task"], str) else log["task"]
        return msg, log, task

    def generate_msg_id(self):
        self.msg_id = str(uuid.uuid4())

    def transform_buffer(self, msg):
        assert isinstance(msg.checksum if msg.checksum else 0, int)
        assert isinstance(msg.headers if msg.headers else [], (list, tuple))
        assert isinstance(msg.key if msg.key else "NA", str)
        assert isinstance(msg.offset, int) and isinstance(msg.partition, int)
        self.buffers.append({
            "etl_id": self.etl_id, "msg_id": self.msg_id, "checksum": msg.checksum,
            "headers": list(msg.headers), "key": msg.key, "offset": msg.offset,
            "partition": msg.partition, "serialized_key_size": msg.serialized_key_size,
            "serialized_value_size": msg.serialized_value_size,
            "timestamp": datetime.datetime.fromtimestamp(msg.timestamp / 1000).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "timestamp_type": msg.timestamp_type, "topic": msg.topic, "_is_protocol": False,
        })

    def transform_log(self, log):
        for k in ("level", "timestamp", "name", "log_message"):
            assert k in log
        parse_ts(log["timestamp"])
        self.logs.append({
            "etl_id": self.etl_id, "msg_id": self.msg_id, "level": log["level"],
            "timestamp": log["timestamp"], "name": log["name"], "log_message": log["log_message"],
        })

    def transform(self, log, task):
        if self.topic == "lib.server.lobby" and log["log_message"] == "Starting Match":
            ts = parse_ts(task["TIMESTAMP"]).strftime("%Y-%m-%dT%H:%M:%S.%f")
            for k, v in task["PAYLOAD"]["PARTICIPANTS_HEROS"].items():
                self.tasks.append({
                    "etl_id": self.etl_id, "msg_id": self.msg_id, "timestamp": ts,
                    "game_token": task["PAYLOAD"]["GAME_TOKEN"], "user_token": k,
                    "superhero_id": v["id"], "superhero_attack": v["attack"], "superhero_health": v["health"],
                })
        elif self.topic == "lib.server.game" and log["log_message"] == "Attack Completed":
            details = task["STATUS"]["DETAILS"]
            assert isinstance(task["PAYLOAD"]["GAME_TOKEN"], str)
            assert isinstance(task["PAYLOAD"]["USER_TOKEN"], str)
            assert isinstance(task["STATUS"]["ACTION"], str)
            assert isinstance(details["ENEMY_TOKEN"], str)
            for k in ("ENEMY_DAMAGE", "ENEMY_HEALTH_PRIOR", "ENEMY_HEALTH_POST"):
                assert isinstance(details[k], int)
            self.tasks.append({
                "etl_id": self.etl_id, "msg_id": self.msg_id,
                "timestamp": parse_ts(task["TIMESTAMP"]).strftime("%Y-%m-%dT%H:%M:%S.%f"),
                "game_token": task["PAYLOAD"]["GAME_TOKEN"], "user_token": task["PAYLOAD"]["USER_TOKEN"],
                "action": task["STATUS"]["ACTION"], "enemy_token": details["ENEMY_TOKEN"],
                "enemy_damage": details["ENEMY_DAMAGE"], "enemy_health_prior": details["ENEMY_HEALTH_PRIOR"],
                "enemy_health_post": details["ENEMY_HEALTH_POST"],
            })

    def transform_etl(self):
        self.etl.append({
            "etl_id": self.etl_id, "service": "Kafka", "mode": "Batch",
            "timestamp_start": self.start_time.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "timestamp_end": datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f"),
        })

    def load_json(self, data, schema_name):
        partition_path = os.path.join(self.out_dir, "raw", schema_name, datetime.date.today().strftime("%Y/%m/%d"))
        os.makedirs(partition_path, exist_ok=True)
        ts = int(datetime.datetime.timestamp(datetime.datetime.now()) * 1000000)
        file_path = os.path.join(partition_path, "%s_%d.json.gzip" % (self.etl_id, ts))
        with gzip.open(file_path, "wt", compresslevel=9) as f:
            json.dump(data, f)

    def end(self):
        if len(self.tasks) > 0:
            self.transform_etl()
            self.load_json(self.etl, "etl_meta")
            self.load_json(self.buffers, "buffer_meta")
            self.load_json(self.logs, "log_meta")
            self.load_json(self.tasks, self.topic.replace(".", "_"))
            self.etl, self.buffers, self.logs, self.tasks = [], [], [], []
        self.start_time = datetime.datetime.now()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--redis-port", type=int, default=6379)
    ap.add_argument("--group", default="superhero_sim_bench")
    ap.add_argument("--sleep", action="store_true", help="keep the original's 1 s sleep per partition per poll")
    args = ap.parse_args()

    started = time.monotonic()
    r = redis.Redis(host="127.0.0.1", port=args.redis_port)
    topics = ["lib.server.lobby", "lib.server.game"]
    clients = {t: ETLClient(t, args.out) for t in topics}
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=args.bootstrap, group_id=args.group,
        enable_auto_commit=False, auto_offset_reset="earliest",
        key_deserializer=lambda key: key.decode("utf-8") if key else "",
    )
    await consumer.start()
    offsets, run_counts = {}, {}

    async def save_state():
        while True:
            for tp, o in list(offsets.items()):
                r.set("bench.kafka.topic.%s.partition.%d.state.last_offset" % (tp.topic, tp.partition), str(o))
            await asyncio.sleep(1)

    saver = asyncio.create_task(save_state())
    consumed = 0
    try:
        while consumed < args.expect:
            msg_set = await consumer.getmany(timeout_ms=1000)
            for tp, msgs in msg_set.items():
                client = clients[tp.topic]
                for msg in msgs:
                    msg, log, task = client.extract(msg)
                    client.generate_msg_id()
                    client.transform_buffer(msg)
                    client.transform_log(log)
                    client.transform(log, task)
                    run_counts[tp] = run_counts.get(tp, 0) + 1
                    offsets[tp] = msg.offset
                    consumed += 1
                if args.sleep:
                    await asyncio.sleep(1)
                if run_counts.get(tp, 0) > args.batch_size:
                    client.end()
                    run_counts[tp] = 0
        for client in clients.values():
            client.end()
    finally:
        saver.cancel()
        await consumer.stop()
    elapsed = time.monotonic() - started
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"messages": consumed, "elapsed_secs": elapsed, "messages_per_sec": consumed / elapsed,
                      "cpu_secs": ru.ru_utime + ru.ru_stime}))


if __name__ == "__main__":
    asyncio.run(main())
