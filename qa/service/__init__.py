"""The HTTP service: the Flask app (chat page and JSON API) and the gunicorn server around it."""
