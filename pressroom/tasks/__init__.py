"""Celery tasks: thin wrappers that run a service through the shared
execution pattern in base.py. Job tasks take a job id, nothing else."""
