"""Routing: which agent and which model each task gets, and why."""

from agentflow.routing.choose import AUTO, ModelChoice, choose_model

__all__ = ["AUTO", "ModelChoice", "choose_model"]
