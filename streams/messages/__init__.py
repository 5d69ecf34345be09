"""Message contracts on the topics and their codec: no Faust, no Kafka client, no torch."""
