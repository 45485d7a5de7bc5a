"""Database: engine and session factory (engine.py) and the models (models.py)."""
