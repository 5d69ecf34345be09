"""kafka-python's admin client, made to release what it opened when its constructor fails.

``KafkaAdminClient.__init__`` starts its network thread and connects before it bootstraps; when the
bootstrap raises (broker still starting, wrong protocol, timeout) it neither closes the socket nor
stops the thread, and the socket warns (ResourceWarning) whenever the garbage collector finds it,
at some unrelated moment. Every admin client in driftrec and its tools is built here.
"""

from __future__ import annotations

import gc
import warnings
from contextlib import suppress
from typing import Any

from kafka.admin import KafkaAdminClient


class ClosingAdminClient(KafkaAdminClient):  # type: ignore[misc]
    """An admin client that closes its sockets and IO thread when its bootstrap fails."""

    def __init__(self, **config: Any) -> None:
        try:
            super().__init__(**config)
        except BaseException:
            for part, method in (("_client", "close"), ("_net", "stop"), ("_metrics", "close")):
                obj = getattr(self, part, None)
                if obj is not None:
                    with suppress(Exception):
                        getattr(obj, method)()
            collect_leaked_sockets()
            raise


def collect_leaked_sockets() -> None:
    """Finalise the sockets of kafka-python's failed connection attempts now, quietly.

    Its connect-failure path drops sockets without closing them; collected later they would
    each warn (ResourceWarning) at some unrelated moment.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
