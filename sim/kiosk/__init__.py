"""The simulated hall kiosk: every device simulator of one kiosk and a real edge agent with its
local device API, plus a citizen control that plays a person at the hardware."""
