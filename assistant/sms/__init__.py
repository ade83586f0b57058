"""Ports to the SMS gateway: the Twilio adapter and the sandbox outbox."""
