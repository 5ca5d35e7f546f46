"""Queries: read-only views of the order book (boards, tracking, promises, job packets).
They read models only and write nothing."""
