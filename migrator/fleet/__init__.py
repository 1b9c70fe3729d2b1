"""Many databases: shards upgraded and read on threads or in child processes."""
