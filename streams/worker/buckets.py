"""Histogram buckets of the worker's metrics, each with why it is where it is (one place: the
worker's and the learning loop's histograms share them)."""

from __future__ import annotations

# Model-worker stages (text encoding, one batched LSTM step, one batched retrieval) take from tens
# of microseconds (a cached batch of one) to about a second (a cold 256-text batch on 2 CPU cores).
STAGE_BUCKETS_S = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
# Event timestamp -> list published (the worker's end-to-end latency, and the same per model
# version): the batch wait (default 50 ms) plus processing sits in the
# 10-500 ms range when healthy; the upper buckets catch backlogs and replays of old events.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Micro-batch sizes are bounded by the max batch setting (default 256); powers of two.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Drift is 1 - cosine, in [0, 2]; thresholds live around 0.05-0.5, so resolution is finest there.
DRIFT_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)
# A swap loads weights and re-embeds the catalog (tens of ms for a small catalog with a warm text
# cache, tens of seconds for a large one with a new text encoder); a rebuild batch replays up to
# a window (20) of events for up to a few hundred users: milliseconds to seconds on a CPU.
SWAP_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
REBUILD_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
