"""The worker: the window stage, the agents and the plain functions they call."""
