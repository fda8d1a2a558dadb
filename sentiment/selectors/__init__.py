"""Reads: what the pages, the API and the worker look up, one module per concern. No writes here."""
