"""A patient's own data, all of it, as one JSON document (GET /v1/me/export)."""
