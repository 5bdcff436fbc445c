"""Prefect tasks: thin wrappers over songforge.stages, with a content-addressed cache."""
