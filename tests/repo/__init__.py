"""Checks of the repository itself: its documents, its build files, its layout."""
