"""Adapters to the outside: the outbox, the job queue, the artifact store and the floor
dispatcher. They know no commands."""
