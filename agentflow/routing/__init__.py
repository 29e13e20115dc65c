"""Routing: which agent, model and tools each task gets, and why (assign, discovery, choose,
tiers, classifier, adaptive, checks, tools)."""
