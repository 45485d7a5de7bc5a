"""Storage: where files live (backend.py), per-job file handling (files.py),
content sniffing (sniff.py) and per-task scratch folders (tempfiles.py)."""
