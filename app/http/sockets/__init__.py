"""The WebSocket doors: the Responses API over a socket (responses.py) and the chat socket
(chat.py), on the same turn path as HTTP (connection.py)."""
