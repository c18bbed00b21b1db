"""The inspector terminal app: today's tasks, checklists, photos with place and time, sync state.

``flow`` is the Qt-free state the tests drive; ``screens`` renders it with PySide6 for a
handheld's 720x1280 portrait touch screen; ``client`` talks to the agent's local device API.
"""
