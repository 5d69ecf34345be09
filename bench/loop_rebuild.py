"""What rebuilding profiles after a hot swap costs: lazily on the event path or in the background.

``python -m bench.loop_rebuild [--profiles 2048] [--window 20] [--text-encoder DIR]``

* **lazy**: a micro-batch whose users were made by the old model pays their rebuild before its
  own step: the table shows the extra time a batch carries for k stale users (k = 1 .. 256).
* **background**: the worker rebuilds every profile it holds right after the swap, in chunks on
  the model thread (events are processed between chunks): profiles per second, and the longest
  stall a chunk puts in front of a waiting batch.

The rebuild replays each profile's recent-event window through the serving model
(:func:`profiles.rebuild.rebuild`); text is not encoded again (item features come from the index),
so the cost is the interest model's and does not depend on the language model's size.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from encoders.serving import ServingModel
from profiles.contracts import ItemEmbedding
from profiles.profile import RecentEvent, UserProfile
from profiles.rebuild import rebuild
from profiles.retrieval import ItemIndex
from streams.messages.records import ItemRecord


def _profiles(n: int, window: int, items: int, model: ServingModel, seed: int) -> list[UserProfile]:
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n):
        p = UserProfile(f"u{u}", "old-model", np.zeros(model.state_dim, np.float32), model.dim,
                        window=window)  # fmt: skip
        for k in range(window):
            item = f"i{int(rng.integers(items))}"
            p.recent.append(RecentEvent(f"u{u}-{k}", item, "click", 1.7e9 + 60.0 * k))
        out.append(p)
    return out


def _time(fn: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=2048)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=64, help="Background chunk (worker: 64).")
    parser.add_argument("--text-encoder", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = ServingModel.load(None, device=args.device, text_encoder=args.text_encoder)
    index: ItemIndex[ItemEmbedding] = ItemIndex(model.dim)
    catalog = [ItemRecord(f"i{k}", f"item number {k}") for k in range(args.items)]
    for emb in model.embed_items(catalog):
        index.upsert(emb.item_id, emb.vec, emb)
    print(
        f"model dim {model.dim} on {model.device}, window {args.window}, {args.threads} thread(s)"
    )
    print(f"{'lazy: stale users in a batch':<30}{'extra batch time':>18}{'per user':>12}")
    for k in (1, 16, 64, 256):
        seconds = _time(lambda k=k: rebuild(_profiles(k, args.window, args.items, model, k),
                                            model, index))  # fmt: skip
        print(f"{k:<30}{seconds * 1000:>15.1f} ms{seconds / k * 1000:>9.2f} ms")
    todo = _profiles(args.profiles, args.window, args.items, model, 0)
    stalls = []
    t0 = time.perf_counter()
    for start in range(0, len(todo), args.chunk):
        c0 = time.perf_counter()
        rebuild(todo[start : start + args.chunk], model, index)
        stalls.append(time.perf_counter() - c0)
    total = time.perf_counter() - t0
    print(
        f"background: {args.profiles} profiles in {total:.2f} s ({args.profiles / total:.0f}/s), "
        f"chunks of {args.chunk}: longest stall {max(stalls) * 1000:.0f} ms, "
        f"median {float(np.median(stalls)) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
