"""Per-user online state and policy: profiles, drift, triggers, retrieval (no Faust)."""
