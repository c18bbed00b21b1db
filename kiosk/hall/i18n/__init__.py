"""Qt translation files of the hall kiosk (hall_en.ts source, hall_en.qm compiled)."""
