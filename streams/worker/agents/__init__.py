"""The worker's agents as plain async functions over one :class:`~streams.worker.agents.context.AgentContext`.

Each ``*_batch(ctx, events)`` handles one batch of Faust events and is testable without a broker;
``streams.worker.app`` only wires them to topics.
"""
