"""The trainer service (``driftrec trainer``): train a candidate from the log, judge it against the
champion, register it (the registry itself is :mod:`streams.registry`)."""
