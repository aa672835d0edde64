"""Compliance suites: stockade against vectors run on the reference implementations."""
