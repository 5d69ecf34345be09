"""The Faust worker: ``faust -A streams.worker.app worker`` (app, agents, views, runtime)."""
