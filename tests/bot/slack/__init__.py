"""Tests for the Slack adapter against a fake Slack on loopback."""
