"""Entry points: the command line, the web API and the worker."""
