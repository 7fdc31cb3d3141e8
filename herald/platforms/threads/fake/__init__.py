"""Threads\x27 part of the platform fake: graph.threads.net\x27s publishing routes."""
