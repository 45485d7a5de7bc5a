"""Services: pure processing. Paths in, paths and facts out, progress through
the ``Progress`` protocol; nothing here knows of jobs, Celery or HTTP."""
