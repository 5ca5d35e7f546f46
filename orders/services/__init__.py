"""Use cases of the order book. Each takes a session (one transaction) and plain values."""
