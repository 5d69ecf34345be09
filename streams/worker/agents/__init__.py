"""Faust agents: one per file, thin (decode, call profiles/encoders, write tables, send, count)."""
