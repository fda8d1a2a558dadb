"""Serving: predicting with a saved model on PyTorch or ONNX Runtime, and choosing the runtime that serves."""
