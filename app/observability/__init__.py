"""Seeing the gateway: Prometheus metrics (metrics.py), one log line per request (requests.py) in
text or JSON (logs.py)."""
