"""The command line: arguments, settings read once, handlers, errors turned into exit codes."""
