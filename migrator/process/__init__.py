"""What every part of the runner shares about its process: logs, signals, the summary line."""
