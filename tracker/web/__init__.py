"""The web app and the HTTP API (CONTRACT.md "HTTP"): ``create_app`` in tracker.web.app."""
