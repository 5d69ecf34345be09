"""Errors raised by the streaming side of driftrec (broker, app, CLI)."""


class StreamsError(Exception):
    """Base class: something in the streaming layer failed; the message says what to do."""


class BrokerError(StreamsError):
    """The local Kafka broker could not be fetched, started, reached or stopped."""


class TransientError(StreamsError):
    """A failure that passes by itself (a model swap in progress, a broker hiccup): the work is
    retried with backoff, never dead-lettered. Raise it (or a subclass) for such conditions."""
