"""A production-like project for the static-file tests: DEBUG off, hashed names, collectstatic.

``STATIC_SITE_ROOT`` sets ``STATIC_ROOT``; ``STATIC_SITE_MODE`` picks who serves the files:
``aiodjango`` (``AIODJANGO_SERVE_STATIC = True``) or ``whitenoise`` (its middleware).
"""
