"""The one faust-streaming version the guards of this package were tested with.

Every module here leans on Faust internals or works around a Faust bug (README.md in this folder).
Another Faust release may move an internal (a silent no-op guard) or fix a bug differently, so the
worker refuses to start on any other version instead of running with guards nobody checked.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Final

from streams.errors import StreamsError

TESTED_FAUST: Final = "0.15.3"


class FaustVersionError(StreamsError):
    """The installed faust-streaming is not the version the Faust guards were tested with."""


def installed_faust() -> str | None:
    try:
        return version("faust-streaming")
    except PackageNotFoundError:
        return None


def check_faust_version(installed: str | None = None) -> None:
    """Raise :class:`FaustVersionError` (one line) unless faust-streaming is ``TESTED_FAUST``."""
    found = installed if installed is not None else installed_faust()
    if found != TESTED_FAUST:
        raise FaustVersionError(
            f"faust-streaming {found or '(not installed)'} found, but the worker's Faust guards "
            f"(streams/faustcompat) are tested with {TESTED_FAUST} only: install "
            f"faust-streaming=={TESTED_FAUST} (requirements.lock)"
        )
