"""Commands: everything that changes the order book. Each takes a session (or the context) and
leaves the database consistent; they may use queries and adapters, never the web."""
