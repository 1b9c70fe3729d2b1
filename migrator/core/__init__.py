"""The verbs: upgrade (fast path and full), apply, plan, and the other commands' engines."""
