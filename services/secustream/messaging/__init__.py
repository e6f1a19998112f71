"""Kafka wrappers (confluent-kafka): explicit config, delivery accounting, batch consume, topics, lag."""
