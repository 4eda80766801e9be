"""Slack app, CLI, settings and scheduled jobs. The only package that reads the environment."""
