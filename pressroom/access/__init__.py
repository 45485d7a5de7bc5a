"""Who may do what: API keys (``keys``) and the job ids a caller can reach (``ids``)."""
