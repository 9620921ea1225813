"""Running itself: pure decisions behind the freshness check and retrospective runs."""
