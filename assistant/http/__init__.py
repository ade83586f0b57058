"""The HTTP edges: Twilio webhooks, the sandbox phone, operations endpoints."""
