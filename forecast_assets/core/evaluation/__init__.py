"""Evaluation: metrics, rolling-origin scoring, champion choice, drift and charts."""
