"""Scripted conversations with the offline engine, run through the real turn path."""
