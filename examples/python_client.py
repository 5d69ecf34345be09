"""Feed driftrec and read its lists from Python (run against a running worker).

    .venv/bin/python examples/python_client.py --users 3 --items i0,i1,i2 --timeout 60

Produces a few behaviour events per user (keyed by user_id, as docs/contracts.md asks), then
follows the recommendations topic with streams.client.follow_lists (repeats dropped by event_id,
tombstones applied) until every user has a list. Connection and topic names come from the same
DRIFTREC_* variables as the worker's (DRIFTREC_BOOTSTRAP_SERVERS, DRIFTREC_EVENTS_TOPIC, ...).
Prints one line per list and exits 0 when every user got one, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

from kafka import KafkaProducer

from streams.client import ListFollower, follow_lists
from streams.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--items", required=True, help="comma-separated item_ids of the catalog")
    parser.add_argument("--events-per-user", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    settings = Settings()
    items = args.items.split(",")
    run = uuid.uuid4().hex[:6]
    users = [f"py-{run}-{n}" for n in range(args.users)]

    producer = KafkaProducer(**settings.kafka_python_config(), acks="all")
    now = time.time()
    for n in range(args.events_per_user):
        for u, user in enumerate(users):
            event = {
                "event_id": f"{user}-{n}",
                "user_id": user,
                "ts": now + n,
                "action": "view",
                "item_id": items[(u + n) % len(items)],
            }
            producer.send(
                settings.events_topic, key=user.encode(), value=json.dumps(event).encode()
            )
    producer.flush()
    producer.close()
    print(f"produced {args.events_per_user * len(users)} events for {len(users)} users")

    follower = ListFollower()
    waiting = set(users)
    deadline = time.monotonic() + args.timeout
    for update in follow_lists(settings, idle_timeout_s=args.timeout, follower=follower):
        if update.user_id not in users:
            continue  # other users' lists on the same topic
        if update.forgotten:
            print(f"forgotten {update.user_id}")
            continue
        top = [item["item_id"] for item in update.items[:3]]
        trigger = update.recommendation["trigger"] if update.recommendation else "?"
        print(f"list {update.user_id} {trigger} {' '.join(top)}")
        waiting.discard(update.user_id)
        if not waiting or time.monotonic() > deadline:
            break
    print(f"users with a list: {len(users) - len(waiting)}/{len(users)}")
    return 0 if not waiting else 1


if __name__ == "__main__":
    sys.exit(main())
