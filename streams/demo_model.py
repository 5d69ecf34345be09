"""The demo's interest model: trained once on the shipped sample, cached under ``<home>/models``.

An untrained model serves nearly the same list to everyone, which shows the plumbing but not the
point; a few epochs on the sample give lists that follow each customer.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from pathlib import Path

from encoders.datafolder import EVENTS_FILE, ITEMS_FILE, read_folder
from encoders.samples import sample_path
from streams.settings import Settings

log = logging.getLogger(__name__)


def demo_model_dir(settings: Settings, epochs: int) -> Path:
    """Where the demo model for this sample and epoch count lives."""
    folder = sample_path()
    digest = hashlib.sha256()
    for name in (ITEMS_FILE, EVENTS_FILE):
        digest.update((folder / name).read_bytes())
    digest.update(f"epochs={epochs}".encode())
    return settings.home / "models" / f"demo-online-retail-{digest.hexdigest()[:12]}"


def demo_model(settings: Settings, epochs: int, *, progress: bool = True) -> Path:
    """The cached demo checkpoint, training it first when it does not exist yet."""
    target = demo_model_dir(settings, epochs)
    if (target / "ok").exists():
        return target / "model"
    from encoders.training import TrainConfig, train_model

    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex[:6]}")
    try:
        trained = train_model(
            read_folder(sample_path()),
            "driftrec",
            seed=0,
            train_config=TrainConfig(
                epochs=epochs, patience=epochs, device=settings.device, progress=progress
            ),
            cache_dir=settings.cache_dir,
        )
        trained.save(tmp / "model")
        (tmp / "ok").touch()
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "model"
