"""A small Django project the serving tests run in subprocesses (runserver, gunicorn, the CLI)."""
