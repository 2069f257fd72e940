"""Importing this module registers every built-in method record (one module per kind)."""

from mechscope.runs import discovery  # noqa: F401
