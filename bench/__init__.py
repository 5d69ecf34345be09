"""Benchmarks of driftrec (`driftrec bench`): throughput, latency, batching, memory."""
