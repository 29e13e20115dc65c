"""agentflow: run teams of LLM agents from declarative files."""

__version__ = "0.1.0"
