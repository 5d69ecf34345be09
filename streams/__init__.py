"""driftrec's streaming side: message contracts, Faust worker, registry, trainer and CLI.

Import-free on purpose: ``streams.messages`` must stay importable without Faust, Kafka or torch.
"""
