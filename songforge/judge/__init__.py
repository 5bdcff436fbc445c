"""Neural judges of a finished song: pure functions of audio (and text) to scores, and the loaders of their models.

Each module owns one model family (its catalogue entry, its loader, its preprocessing as the model was
trained); the steps in songforge/steps/ read the song's files and call them.
"""
