"""ponder: inference-time reasoning pipelines."""
