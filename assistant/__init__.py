"""SMS Assistant: a business's two-way AI assistant over SMS, and SMS notifications for its chat app."""

__version__ = "0.1.0"
