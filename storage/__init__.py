"""Persistence: SQL tables and migrations, repositories, and the Redis-backed pieces."""
