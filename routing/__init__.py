"""Tickets, levels, SLA, escalation, the seller directory and performance. No Slack, no env."""
