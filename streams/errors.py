"""Errors raised by the streaming side of driftrec (broker, app, CLI)."""


class StreamsError(Exception):
    """Base class: something in the streaming layer failed; the message says what to do."""


class BrokerError(StreamsError):
    """The local Kafka broker could not be fetched, started, reached or stopped."""
