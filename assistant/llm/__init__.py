"""Ports to the language model: the OpenAI-compatible adapter and the offline engine."""
