"""The chat app: rooms and messages, Django pages, and the live chat over a websocket."""
