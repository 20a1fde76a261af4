"""The Label Studio expert-region workflow: push candidates, pull expert regions, agreement, adjudication."""
