"""Read-side analysis over the store: anomaly statistics, device profiles, device comparison.

The API and the dashboard are thin shells over these functions; each takes the store first.
"""
