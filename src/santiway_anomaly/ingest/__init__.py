"""Ingest sightings from files or batches: validate every row, store the good, keep the bad."""
