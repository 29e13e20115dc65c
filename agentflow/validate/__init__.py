"""The validate stage: every problem of a workflow and its agents, with where and how to fix it
(workflow: the stage itself; references, routing, tools: its checks)."""
