"""Tools a model can call during a task (issue 6: the tool-use loop). Not wired in yet."""
