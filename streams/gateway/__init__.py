"""The broadcaster gateway: HTTP and WebSocket ingest for clients that do not speak Kafka.

Requests are validated with the same record models as the worker (``streams.schemas``), keyed by
``stream_id`` and answered only after the broker acknowledged the message.
"""
