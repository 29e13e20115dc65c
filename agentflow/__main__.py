from agentflow.cli import entry_point

entry_point()
