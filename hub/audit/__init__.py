"""The audit log: who changed what, to which devices, when and from where.

Every state-changing API call (POST, PUT, PATCH, DELETE below /api/v1) is recorded by an aiohttp
middleware, console or not; the log is append-only (nothing in the hub updates or deletes it) and
searchable by an admin through ``GET /api/v1/audit``.
"""
