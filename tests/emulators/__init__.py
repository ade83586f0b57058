"""Local stand-ins for Twilio's REST API and an OpenAI-compatible chat endpoint, served on loopback."""
