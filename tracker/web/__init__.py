"""The web app and the HTTP API (docs/contract.md "HTTP"): ``create_app`` in tracker.web.app."""
