"""A local Apache Kafka broker for development and tests (``driftrec kafka``): not the worker."""
