"""The hub's REST API under /api/v1, described by an OpenAPI 3 document built from its routes."""
