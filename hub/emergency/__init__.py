"""The emergency center's side of the hub: the alarm feed (WebSocket and signed webhooks),
dispatch of response teams and the resources they draw on, and the emergency console."""
