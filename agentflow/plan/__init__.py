"""The plan stage: a validated workflow -> a Plan (model: what it holds; build: making it;
graph: waves and the critical path; estimate: tokens and costs)."""
