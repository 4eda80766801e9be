"""Fakes that ship with the product, for tests of Comptoir and of code built on it."""

from knowledge.testing.openai_standin import OpenAIStandIn, RecordedRequest

__all__ = ["OpenAIStandIn", "RecordedRequest"]
