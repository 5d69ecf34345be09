"""Operations tooling that is importable: the local Kafka broker launcher."""
