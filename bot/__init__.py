"""Chat adapters, the CLI, settings and the composition root."""
