"""The Django project every benchmarked server serves (aiodjango, aiohttp-wsgi, uvicorn, ...)."""
