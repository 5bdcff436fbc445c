"""The song's measurements: key, tempo and vocal pitch estimated, and every metric of a file (metrics.py).

Loudness and spectrum numbers come from songforge.audio, whose mastering steers by them too.
"""
