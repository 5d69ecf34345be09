"""The model registry: pure state, the folder store, loading a registered model, the Kafka side."""
