"""The habit engine: domain, command grammar and use cases. No chat SDK, no SQL."""
