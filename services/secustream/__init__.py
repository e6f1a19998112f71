"""SecuStreamAI: security events through Kafka into an adaptive hybrid analyzer."""

__version__ = "0.1.0"
