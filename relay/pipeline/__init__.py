"""The use cases every door shares: ingest a post, keep the outbox, poll feeds, run the worker, enrich pages."""
