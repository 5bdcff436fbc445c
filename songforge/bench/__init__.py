"""Benchmarks as albums: a benchmark's prompts read and made songs, our means beside the published rows.

Pure library (no Prefect, no MLflow): reading prompts (wildsongbench), mapping them to songs (songs), which
metric steps can run (metrics), the published numbers shipped as package data (published), and the table
(table). The flow that makes the songs is flows/bench.py; the command is app/bench_cli.py.
"""
