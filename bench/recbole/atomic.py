"""Convert a driftrec data folder to RecBole atomic files for the baseline cross-check.

    python -m bench.recbole.atomic DATA_DIR OUT_DIR [--name NAME] [--min-item-events 4]
           [--users N --seed S]

Writes ``OUT_DIR/data/`` (a driftrec data folder: the same items, the kept events) and
``OUT_DIR/atomic/NAME/NAME.inter`` (RecBole: ``user_id:token item_id:token timestamp:float``).
Both systems then train and test on exactly the same sequences:

* only item events are kept (RecBole has no event without an item);
* users with fewer than ``--min-item-events`` (default 4) item events are dropped: RecBole's
  leave-one-out gives a user with 3 interactions a training and a test sample but no validation
  sample, driftrec's split gives them a validation and a test target; from 4 on both agree
  (train = every prefix before the second-to-last item, valid = second-to-last, test = last);
* ``timestamp`` is the event's position in the data folder's time order (ts, then file order),
  so RecBole's sort by (user, timestamp) keeps the order of the items inside a basket that share
  one timestamp, as driftrec's stable sort does;
* ``--users N`` keeps a random N of the remaining users (numpy seed ``--seed``), for a subsample.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from encoders.data.folder import read_folder, write_folder


def convert(
    data_dir: Path, out_dir: Path, name: str, min_item_events: int, users: int | None, seed: int
) -> dict[str, object]:
    folder = read_folder(data_dir)
    events = [e for e in folder.events if e.item_id is not None]
    counts = Counter(e.user_id for e in events)
    keep = sorted(u for u, c in counts.items() if c >= min_item_events)
    if users is not None and users < len(keep):
        rng = np.random.default_rng(seed)
        keep = sorted(rng.choice(keep, size=users, replace=False).tolist())
    kept = set(keep)
    events = [e for e in events if e.user_id in kept]
    write_folder(out_dir / "data", folder.items, events)
    atomic = out_dir / "atomic" / name
    atomic.mkdir(parents=True, exist_ok=True)
    with (atomic / f"{name}.inter").open("w", encoding="utf-8") as fh:
        fh.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for position, e in enumerate(events):
            fh.write(f"{e.user_id}\t{e.item_id}\t{position}\n")
    summary = {
        "source": str(data_dir),
        "users": len(kept),
        "events": len(events),
        "items_in_events": len({e.item_id for e in events}),
        "catalog_items": len(folder.items),
        "dropped_users": len(counts) - len(kept),
        "min_item_events": min_item_events,
        "subsample": {"users": users, "seed": seed} if users is not None else None,
    }
    (out_dir / "convert.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data_dir", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--name", default="online-retail")
    p.add_argument("--min-item-events", type=int, default=4)
    p.add_argument("--users", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    summary = convert(
        args.data_dir, args.out_dir, args.name, args.min_item_events, args.users, args.seed
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
