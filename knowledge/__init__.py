"""Guideline ingest, the vector index, retrieval and answers. No Slack, no env."""
