"""The settings: declared once, read from the environment, resolved into typed values."""
