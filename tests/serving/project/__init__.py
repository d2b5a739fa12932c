"""The serving tests' Django project (also an installed app, for its static files)."""
