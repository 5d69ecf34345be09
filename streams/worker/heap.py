"""The worker's garbage-collector policy: long-lived startup objects out of every full collection.

A worker holds a few hundred thousand long-lived objects once torch, the text encoder and the
catalog are loaded. CPython's full (generation 2) collection scans all of them, and it runs on
whichever thread allocates at the time, so a batch on the event path pays for it as a pause of a
few hundred milliseconds. ``gc.freeze()`` after startup moves what is alive then into a permanent
generation that collections skip (reference counting still frees those objects when their last
reference goes). A hot swap calls :func:`unfreeze` so a retired model's objects, some held in
reference cycles, can be collected again; the heap then stays unfrozen until the next start.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def freeze() -> int:
    """Collect once, then freeze everything alive; returns the number of objects frozen."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap: %d long-lived objects frozen out of garbage collection (%.2fs)",
        frozen,
        time.perf_counter() - started,
    )
    return frozen


def unfreeze() -> None:
    """Make frozen objects collectable again (after a hot swap retired a model)."""
    if gc.get_freeze_count():
        gc.unfreeze()
        log.info("heap: unfrozen (a model was swapped)")
