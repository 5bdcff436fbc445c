"""songforge: lyrics and a style in, finished, mastered, measured songs out.

The library is pure Python over numpy arrays and pydantic params; it never imports
Prefect or MLflow (tasks/ and flows/ wrap it).
"""

__version__ = "0.1.0"
