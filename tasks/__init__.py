"""Prefect tasks: one task that runs any step of a song's plan (steps.py) under a content-addressed cache, and
the tracking, result store, locks and GPU slots around it."""
