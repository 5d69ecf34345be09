"""The driftrec Faust app: ``faust -A streams.worker.app worker``.

Faust needs a module-level ``app``; it is built here once, from the settings in the environment,
by :func:`streams.worker.factory.create_app` (``driftrec worker`` and tests call the factory with
their own settings instead of importing this module).
"""

from __future__ import annotations

from streams.faustcompat.version import FaustVersionError, check_faust_version
from streams.settings import get_settings

try:  # `faust -A streams.worker.app worker` imports this module first: stop with one line
    check_faust_version()
except FaustVersionError as exc:
    raise SystemExit(f"driftrec worker: {exc}") from None

from streams.worker.factory import Worker, create_app  # after the version check

worker: Worker = create_app(get_settings())
app = worker.app
