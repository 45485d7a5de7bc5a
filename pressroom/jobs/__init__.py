"""The job layer: states, JobOperations (the only writer of job rows), progress, views."""
