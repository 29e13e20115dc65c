"""The validate stage: every problem of a workflow and its agents, with where and how to fix it."""
