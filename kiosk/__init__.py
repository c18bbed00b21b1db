"""The Qt apps of the hall kiosk and the inspector terminal; they talk only to the agent's API."""
