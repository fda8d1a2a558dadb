"""Pages: thin, one module per concern. Each parses the request, calls one service or selector, and renders."""
