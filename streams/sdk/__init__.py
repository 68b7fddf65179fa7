"""The client side: publish a broadcaster's records, follow the topics a subscriber reads."""
