"""The tools a model may call during a task: ask_agent, shared state and notes, files."""
