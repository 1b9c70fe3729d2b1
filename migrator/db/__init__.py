"""The server: logging in, watching a session, the run marker, the migration lock, progress."""
