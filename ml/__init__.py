"""Plain-Python machine learning for the sentiment classifier.

Everything here works on plain types and dataclasses so that it runs the same from a management
command, a Celery worker or a notebook. It must never import Django or Celery (a test checks).
"""
