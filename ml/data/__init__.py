"""Data: labelled reviews as ``datasets`` splits, uploaded sets and corrections, and tokenization."""
