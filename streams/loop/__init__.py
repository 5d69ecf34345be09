"""The continuous learning loop's streaming side: model routing and hot swap in workers, training
from the log, and the trainer service (the registry itself is :mod:`streams.registry`)."""
