"""Offline field use: the service worker, the patrol pack, and the outbox's endpoints."""
