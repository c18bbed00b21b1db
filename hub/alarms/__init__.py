"""Rules, alarms and their lifecycle: one active alarm per (device, rule), held by the database."""
