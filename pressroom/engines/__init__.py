"""Engines: thin wrappers over external programs.

``runner.run`` is the one way a program is started (argument list, required
time-out, resource limits, stderr logged under a per-tool logger); one module
per tool builds its arguments and turns failures into domain errors.
"""
