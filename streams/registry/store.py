"""The model folder store: immutable model folders under ``$DRIFTREC_HOME/models``, one per version.

Why a folder store beside the registry's state (:mod:`streams.registry.state`): see that module.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from encoders.checkpoint import META_FILE, load_checkpoint
from streams.registry.state import RegistryError

LINEAGE_FILE: Final = "lineage.json"


class ModelStore:
    """Immutable model folders under ``root`` (``$DRIFTREC_HOME/models``), one per version."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"not a model version: {version!r}")
        return self.root / version

    def has(self, version: str) -> bool:
        return (self.path(version) / META_FILE).is_file()

    def add(self, checkpoint_dir: Path, lineage: Mapping[str, Any]) -> tuple[str, Path]:
        """Copy a checkpoint folder in (verified, atomically); returns (version, folder).

        Adding the same content twice is a no-op: the version is the content hash.
        """
        version = load_checkpoint(Path(checkpoint_dir)).version  # verifies weights vs metadata
        target = self.path(version)
        if self.has(version):
            return version, target
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copytree(checkpoint_dir, tmp)
            doc = {"version": version, **lineage}
            (tmp / LINEAGE_FILE).write_text(json.dumps(doc, indent=1, sort_keys=True), "utf-8")
            for f in tmp.iterdir():
                f.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            try:
                os.rename(tmp, target)
            except OSError:
                if not self.has(version):  # not a concurrent add of the same model
                    raise
        finally:
            if tmp.exists():
                for f in tmp.iterdir():
                    f.chmod(stat.S_IRUSR | stat.S_IWUSR)
                shutil.rmtree(tmp, ignore_errors=True)
        return version, target

    def lineage(self, version: str) -> dict[str, Any]:
        path = self.path(version) / LINEAGE_FILE
        try:
            doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise RegistryError(f"model {version!r} is not in the store {self.root}") from None
        return doc

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith("."))
