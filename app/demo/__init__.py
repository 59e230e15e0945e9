"""Demo mode (`python main.py --demo`): the real Claude Code CLI against a small built-in fake
Anthropic Messages API on loopback, so every endpoint and client can be tried without a Claude
credential and without spending tokens (README "Demo mode")."""
