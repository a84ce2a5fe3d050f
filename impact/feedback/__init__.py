"""The feedback workflow: who is owed word of a decided change, the outbox that owns every step of
telling them, the summaries they read, and their private links."""
