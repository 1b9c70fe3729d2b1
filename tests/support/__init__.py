"""Helpers shared by the test suites: imported by tests, never collected as tests."""
